"""Tokens never reach a log line, an error body or a job record: one function rewrites them.

Clients may put their API token in the URL (``?access_token=``, which map clients that cannot
set headers need), so every place that writes a URL or a message down passes it through
``redact`` first: ``cs_…`` tokens and ``access_token=`` values (plain or percent-encoded) become
``***``. ``RedactTokens`` does the same as a logging filter; ``install_redaction`` puts it on the
loggers and handlers a server writes through (the app factory and ``cogsight serve`` call it).
A handler added later needs the filter too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"

_SECRET = re.compile(
    # a cs_ token (43 URL-safe characters; 20 or more, so a name like cs_landcover_2024 is
    # left alone), not the tail of a word ("docs_…"), possibly right after a %XX escape
    r"(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{2}))cs_[A-Za-z0-9_-]{20,}"
    # the value of access_token= (also access%5Ftoken=, access_token%3D…)
    r"|(?P<query>access(?:_|%5F)token(?:=|%3D))[^&\s\"'<>]+",
    re.IGNORECASE,
)


def _mask(match: re.Match[str]) -> str:
    return (match.group("query") or "") + MASK


def redact(text: str) -> str:
    """``text`` with every API token in it replaced by ``***``."""
    return _SECRET.sub(_mask, text)


def redact_data(value: Any) -> Any:
    """``redact`` applied to every string inside JSON-like data (dicts, lists, strings)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_data(v) for v in value)
    return value


_PLAIN = (int, float, bool, type(None))
_TRACEBACKS = logging.Formatter()


def _redact_arg(arg: Any) -> Any:
    """A log argument with tokens redacted; numbers stay numbers (``%d`` must still format)."""
    if isinstance(arg, str):
        return redact(arg)
    if isinstance(arg, _PLAIN):
        return arg
    text = str(arg)
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


class RedactTokens(logging.Filter):
    """Rewrites a record's arguments, message and traceback with tokens redacted.

    Arguments are redacted one by one, keeping their shape: uvicorn's access formatter unpacks
    ``record.args`` itself. Only a token the arguments do not hold on their own (split between
    the format string and an argument) makes the record a plain, already formatted message.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(_redact_arg(a) for a in record.args)
        try:
            text = record.getMessage()
        except Exception:  # a malformed record; logging reports it when it formats it
            text = redact(str(record.msg))
            record.msg = text
        cleaned = redact(text)
        if cleaned != text:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "cogsight")
"""The loggers a server writes through; their handlers, ``cogsight.*`` and ``uvicorn.*``
loggers that exist at install time, and logging's last-resort handler get the filter too."""

_FILTER = RedactTokens()


def _add(target: logging.Filterer) -> None:
    if not any(isinstance(f, RedactTokens) for f in target.filters):
        target.addFilter(_FILTER)


def install_redaction() -> None:
    """Redact tokens from every record the server's loggers and handlers pass on (idempotent).

    A logger's filter sees only records made on that logger, a handler's sees every record it
    writes, so both get it: records of child loggers are caught by the handlers they reach.
    """
    names = set(LOGGERS) | {
        name
        for name in logging.root.manager.loggerDict
        if name.startswith(("cogsight.", "uvicorn."))
    }
    for name in names:
        logger = logging.getLogger(name)
        _add(logger)
        for handler in logger.handlers:
            _add(handler)
    if logging.lastResort is not None:
        _add(logging.lastResort)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging setup with the filter on its handlers (``cogsight serve``),
    so every worker process it starts redacts from its first line on."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "filters": {"redact_tokens": {"()": f"{__name__}.RedactTokens"}},
        "handlers": {
            name: {**handler, "filters": ["redact_tokens"]}
            for name, handler in LOGGING_CONFIG["handlers"].items()
        },
    }
    return config
