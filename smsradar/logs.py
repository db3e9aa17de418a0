"""Structured logging: one JSON object per line (or plain text for a terminal)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRS)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _RECORD_ATTRS)
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka logs every failed reconnect at ERROR; our own logs say what it means.
    quiet = max(logging.getLevelName(level), logging.WARNING)
    logging.getLogger("aiokafka").setLevel(quiet)
    logging.getLogger("httpx").setLevel(quiet)  # one line per simulated request otherwise


def loggable_reason(exc: Exception, limit: int = 5) -> str:
    """Why a record was refused, fit for the log.

    A pydantic error's text quotes the input it refused, which may be a message's text:
    the log gets each field and error type only (the dead-letter record keeps it all).
    """
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        fields = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'record'} ({e['type']})"
            for e in errors[:limit]
        )
        more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
        return f"ValidationError: {fields}{more}"
    return f"{type(exc).__name__}: {exc}"[:300]
