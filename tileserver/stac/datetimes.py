"""RFC 3339 instants and STAC intervals: the only time formats the STAC API reads or writes.

Python's ``fromisoformat`` accepts far more than RFC 3339 (dates alone, no offset, week dates),
so a regex gates the input first: a naive or date-only value would silently mean local time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tileserver.errors import InvalidInput

_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:\d{2})$"
)
_OPEN = ("", "..")

Interval = tuple[datetime | None, datetime | None]


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time (offset required) as an aware UTC datetime."""
    match = _RFC3339.match(text.strip())
    if match is None:
        raise InvalidInput(f"Invalid datetime '{text}': use RFC 3339, e.g. 2024-05-01T00:00:00Z.")
    fraction = (match["frac"] or "")[:7]  # Python keeps microseconds: '.' and 6 digits
    offset = "+00:00" if match["tz"] in ("Z", "z") else match["tz"]
    try:
        value = datetime.fromisoformat(f"{match['date']}T{match['time']}{fraction}{offset}")
    except ValueError as exc:
        raise InvalidInput(f"Invalid datetime '{text}': {exc}.") from None
    return value.astimezone(UTC)


def parse_interval(text: str) -> Interval:
    """A STAC ``datetime`` parameter: an instant, ``start/end``, or a range open on one side.

    An instant becomes the closed interval [t, t]; ``..`` or an empty side means open.
    """
    parts = text.strip().split("/")
    if len(parts) == 1:
        if parts[0] in _OPEN:
            raise InvalidInput("datetime must not be empty.")
        instant = parse_rfc3339(parts[0])
        return instant, instant
    if len(parts) != 2:
        raise InvalidInput(f"Invalid datetime '{text}': use an instant or 'start/end'.")
    start_text, end_text = parts
    if start_text in _OPEN and end_text in _OPEN:
        raise InvalidInput("A datetime interval may be open on one side only.")
    start = None if start_text in _OPEN else parse_rfc3339(start_text)
    end = None if end_text in _OPEN else parse_rfc3339(end_text)
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"Invalid datetime '{text}': start is after end.")
    return start, end


def format_rfc3339(value: datetime) -> str:
    """UTC with a ``Z`` suffix; catalog datetimes without a zone are UTC by convention."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
