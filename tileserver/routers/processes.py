"""Placeholder router (filled in by its feature)."""

from fastapi import APIRouter


def build_processes_router() -> APIRouter:
    return APIRouter()
