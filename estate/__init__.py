"""AI Estate: the offline engine, policy runner, reports and verifier behind the `estate` CLI."""

__version__ = "0.1.0"
