"""The entry point the Pulumi CLI runs (`python -m pulumi.policy <engine> policies/`)."""

from governance import build_pack

build_pack()
