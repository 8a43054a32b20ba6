"""Limits on the lists of dataset ids the tools take, checked when their inputs are validated.

An inputs model is a class (its JSON schema is what ``GET /processes/{id}`` publishes), so the
limit is a constant, not a setting: a 400 names it before any id is looked up or a job queued.
"""

from __future__ import annotations

from collections import Counter

from tileserver.errors import name_few

MAX_PROCESS_DATASETS = 500
"""Most dataset ids one process input may list (mosaic, composite and animation inputs)."""
MAX_ID_LENGTH = 64
"""Dataset ids are 12 hex characters; a longer string is no id and is not echoed back."""


def bounded_ids(ids: list[str], *, unique: bool) -> list[str]:
    """``ids`` if each is id-sized and, when ``unique``, named once; else ``ValueError``."""
    if any(len(i) > MAX_ID_LENGTH for i in ids):
        raise ValueError(f"a dataset id is at most {MAX_ID_LENGTH} characters")
    twice = [i for i, n in Counter(ids).items() if n > 1] if unique else []
    if twice:
        raise ValueError(f"each dataset may be listed once; listed again: {name_few(twice)}")
    return ids


def unique_ids(ids: list[str]) -> list[str]:
    """Field validator: id-sized ids, each listed once (a scene twice in a mosaic adds nothing)."""
    return bounded_ids(ids, unique=True)


def sized_ids(ids: list[str]) -> list[str]:
    """Field validator: id-sized ids; repeats allowed (a band stacked twice is a choice)."""
    return bounded_ids(ids, unique=False)
