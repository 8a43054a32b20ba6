"""Placeholder router (filled in by its feature)."""

from fastapi import APIRouter


def build_uploads_router() -> APIRouter:
    return APIRouter()
