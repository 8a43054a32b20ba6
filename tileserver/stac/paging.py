"""Opaque paging tokens for ``next`` links.

A token encodes the offset into the (deterministically sorted) result list. It is base64 of
a small JSON object so it can grow (e.g. a last sort key) without changing the wire format;
clients must treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
import json

from tileserver.errors import InvalidInput

MAX_OFFSET = 2**31 - 1


def encode_token(offset: int) -> str:
    raw = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> int:
    """The offset a token stands for; anything we did not write is a 400."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = data["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise InvalidInput("Invalid paging token.") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("Invalid paging token.")
    return offset
