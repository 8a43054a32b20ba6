"""``/models``: list the models, describe one, upload an ONNX / TorchScript model with its card.

Thin HTTP over ``tileserver.processing.models.upload`` (the service ``cogsight model add``
runs too). The file is streamed to the scratch area by ``ingest.receive`` (refused as soon as
it passes ``COGSIGHT_MAX_MODEL_BYTES`` or its first bytes show a pickle or an unknown format),
then checked and stored in the thread pool. An uploaded model is a process at once:
``POST /processes/{name}/execution``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from tileserver.auth.access import require_writer
from tileserver.auth.principal import get_principal
from tileserver.auth.schemas import Principal
from tileserver.errors import InvalidInput, PayloadTooLarge
from tileserver.http.dependencies import get_settings
from tileserver.http.openapi import multipart_body
from tileserver.ingest.receive import check_content_length, received_upload
from tileserver.processing.models.remove import remove_model
from tileserver.processing.models.upload import (
    ModelOut,
    add_model,
    card_from_request,
    describe_model,
    list_models,
    max_model_bytes,
    refuse_head,
    too_large,
)
from tileserver.settings import Settings
from tileserver.storage import scratch_dir

FIELDS = frozenset({"card", "name", "title", "visibility"})

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A card that is not valid, or a network that does not fit it."},
    409: {"description": "The name of a tool, a built-in model or someone else's model."},
    413: {"description": "Larger than COGSIGHT_MAX_MODEL_BYTES."},
    415: {"description": "Not an ONNX model or a TorchScript archive (pickles are refused)."},
}

UPLOAD_BODY = multipart_body(
    ".onnx or TorchScript (torch.jit.save) file.",
    {
        "card": {
            "type": "string",
            "description": "The model card, JSON: name, bands, classes ({id: {name, color}}), "
            "scale, offset, chip_size, resolution_range, output (probabilities | logits).",
        },
        "name": {"type": "string", "description": "Overrides the card's."},
        "title": {"type": "string"},
        "visibility": {"type": "string", "enum": ["public", "private"]},
    },
    required=("card",),
)


def build_models_router() -> APIRouter:
    router = APIRouter(tags=["Models"])

    @router.get("/models", response_model=list[ModelOut], summary="Models you may run")
    def get_models(
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Any:
        return list_models(settings, principal, settings.anonymous_read)

    @router.get("/models/{name}", response_model=ModelOut, summary="One model and its versions")
    def get_model(
        name: str,
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Any:
        return describe_model(name, settings, principal, settings.anonymous_read)

    @router.delete(
        "/models/{name}",
        status_code=204,
        responses={
            403: {"description": "A built-in model, or someone else's."},
            404: {"description": "No such model that you may see."},
        },
        summary="Remove a trained or uploaded model with all its versions",
    )
    def delete_model(
        name: str,
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Response:
        remove_model(name, settings, principal, settings.anonymous_read)
        return Response(status_code=204)

    @router.post(
        "/models",
        status_code=201,
        response_model=ModelOut,
        openapi_extra=UPLOAD_BODY,
        responses=_ERRORS,
        summary="Upload an ONNX or TorchScript model with its card",
    )
    async def upload_model(
        request: Request,
        settings: Settings = Depends(get_settings),
        principal: Principal = Depends(get_principal),
    ) -> Any:
        require_writer(principal)
        limit = max_model_bytes(settings)
        try:
            check_content_length(request.headers.get("content-length"), limit)
            async with received_upload(
                request.stream(),
                request.headers.get("content-type"),
                scratch_dir(settings),
                limit,
                fields=FIELDS,
                check_head=refuse_head,
            ) as upload:
                fields = {k: v.strip() for k, v in upload.fields.items() if v.strip()}
                visibility = fields.pop("visibility", None)
                if visibility not in (None, "public", "private"):
                    raise InvalidInput("visibility must be 'public' or 'private'.")
                card = card_from_request(fields.pop("card", None), fields)
                assert upload.path is not None
                return await run_in_threadpool(
                    add_model,
                    settings,
                    upload.path,
                    card,
                    principal,
                    visibility=visibility,
                    anonymous_read=settings.anonymous_read,
                )
        except PayloadTooLarge:
            raise too_large(limit) from None

    return router
