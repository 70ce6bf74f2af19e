"""The AWS regions a stack may name in `aws:region`, as data (`estate/data/aws_regions.json`).

The list comes from botocore's endpoint data (the partitions and the regions EC2 is offered in),
so the schema needs neither boto3 nor the network at `pulumi up` time. Regenerate it after a
boto3 upgrade; a test fails when the installed botocore knows a region the file does not:

    .venv/bin/python -m estate.stack.aws_regions            # rewrite the file
    .venv/bin/python -m estate.stack.aws_regions --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "aws_regions.json"


@cache
def known_regions() -> dict[str, str]:
    """Region name -> partition, for every region in the data file."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    return {region: partition for partition, regions in data.items() for region in regions}


def from_botocore() -> dict[str, list[str]]:
    """Partition -> regions, as the installed botocore knows them."""
    import boto3

    session = boto3.session.Session()
    return {
        partition: sorted(session.get_available_regions("ec2", partition_name=partition))
        for partition in session.get_available_partitions()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    current = from_botocore()
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if args.check:
        missing = sorted(
            {r for regions in current.values() for r in regions} - set(known_regions())
        )
        if missing:
            print(f"{DATA}: stale, botocore knows {', '.join(missing)}; regenerate it")
            return 1
        return 0
    DATA.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
