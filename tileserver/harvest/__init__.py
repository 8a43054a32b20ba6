"""Harvesting STAC archives into the catalog: ``cogsight harvest SOURCE`` and ``/harvests``."""
