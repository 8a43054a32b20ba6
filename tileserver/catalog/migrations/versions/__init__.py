"""One module per schema revision, oldest first (``0001_baseline`` is the schema as it was
when cogsight still created tables with ``metadata.create_all``)."""
