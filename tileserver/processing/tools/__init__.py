"""The built-in tools; importing this package registers each of them."""

from tileserver.processing.tools import (  # noqa: F401
    animation,
    clip,
    composite,
    index,
    mosaic,
    warp,
)
