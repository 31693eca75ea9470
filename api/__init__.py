"""The HTTP API (FastAPI) over the same case commands and store as the CLI."""
