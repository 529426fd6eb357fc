"""Structured JSON logs on stderr, one object per line, so the TypeScript side can read them."""

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(time.time() * 1000),
            "level": record.levelname.lower(),
            "name": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def event(logger: logging.Logger, name: str, **fields: object) -> None:
    """Logs a named event; `stowage dev` waits for the `worker_ready` event."""
    logger.info(name, extra={"fields": {"event": name, **fields}})
