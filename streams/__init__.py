"""The stream processors: webhooks -> canonical events -> per-message facts and windows."""
