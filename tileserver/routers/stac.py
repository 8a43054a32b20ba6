"""Placeholder router (filled in by its feature)."""

from fastapi import APIRouter


def build_stac_router() -> APIRouter:
    return APIRouter()
