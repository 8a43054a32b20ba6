"""OpenAPI pieces the routers share: the ``requestBody`` of a streamed multipart upload,
whose body FastAPI cannot describe itself because the route reads the raw stream."""

from __future__ import annotations

from typing import Any


def multipart_body(
    file_description: str, fields: dict[str, dict[str, Any]], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``openapi_extra`` for a route that takes a ``file`` part plus the text ``fields``."""
    properties = {
        "file": {"type": "string", "format": "binary", "description": file_description},
        **fields,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", *required],
                        "properties": properties,
                    }
                }
            },
        }
    }
