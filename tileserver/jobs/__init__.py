"""Jobs: process runs whose state lives in the catalog database and whose work runs on Dask."""
