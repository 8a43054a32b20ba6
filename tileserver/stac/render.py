"""Moved to ``tileserver.rendering``; kept so existing imports work."""

from tileserver.rendering.fallback import (
    SAR_SENSORS,
    default_bands,
    default_render_query,
    default_rescale,
)

__all__ = ["SAR_SENSORS", "default_bands", "default_render_query", "default_rescale"]
