"""`python -m estate` is the `estate` CLI."""

from estate.cli import app

app()
