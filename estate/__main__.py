"""`python -m estate` is the `estate` CLI."""

from estate.cli import main

main()
