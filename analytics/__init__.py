"""The analytics store: the sink that writes facts, the relations, queries, ``smsradar sql``."""
