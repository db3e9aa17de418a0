"""The soak: the whole system at a fixed rate for 30 minutes (``make soak``)."""
