"""Job messages name files, never the server's folders.

Errors are written without paths where they are raised; this is the one defensive pass over
what a job records as its failure: any absolute path under the data folder, its scratch space
or the temporary folder becomes the file's own name (a dataset's file is named after its id,
a model's folder after the model).
"""

from __future__ import annotations

import re
import tempfile
from functools import partial
from pathlib import Path

from tileserver.settings import Settings

_END = r"""(?:/[^\s'"`<>|;,()\[\]{}]*)?(?=[\s'"`<>|:;,()\[\]{}.]|$)"""


def _roots(settings: Settings) -> list[str]:
    """The folders whose paths must not be shown, as given and resolved, longest first."""
    found: set[str] = set()
    for folder in (settings.data_dir, Path(tempfile.gettempdir())):
        for form in (folder.absolute(), folder.resolve()):
            text = str(form).rstrip("/")
            if len(text) > 1:
                found.add(text)
    return sorted(found, key=len, reverse=True)


def without_server_paths(text: str, settings: Settings) -> str:
    """``text`` with every path under the data, scratch or temporary folder replaced by its
    last part (the folder itself by ``[data]``)."""
    for root in _roots(settings):
        text = re.sub(re.escape(root) + _END, partial(_last_part, len(root)), text)
    return text


def _last_part(root_length: int, match: re.Match[str]) -> str:
    """The matched path's last part (``[data]`` for the bare root: nothing follows it)."""
    rest = match.group(0)[root_length:].strip("/")
    return rest.rsplit("/", 1)[-1] if rest else "[data]"
