"""Place names as search keys: case, accents and punctuation do not matter."""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-_'\u2019.,()/]+")


def normalize(text: str) -> str:
    """``"Hồ Bắc"`` → ``"ho bac"``, ``"Saint-Étienne"`` → ``"saint etienne"``; CJK stays."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = bare.replace("ß", "ss").replace("ł", "l").replace("Ł", "l").replace("ø", "o")
    return _SEPARATORS.sub(" ", bare.casefold()).strip()[:200]
