"""Shared pieces of the mock answers: fixed account and time, and stable hashes.

Everything the mocks answer is derived from a hash of the type, logical name and a per-stack salt,
or from values the program itself passed in, so a render is deterministic: the same program and
config always produce the same inventory, which is what makes `--base` diffs and golden files
possible.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

#: What an output not known until deploy renders as (`pulumi preview`'s own word for it).
UNKNOWN = "<computed>"

#: A fixed point in time for every timestamp the mocks report (creation dates, etc.).
CREATED_AT = "2026-01-05T09:30:00Z"

#: Services whose ARNs carry no region.
GLOBAL_SERVICES = {
    "iam",
    "s3",
    "cloudfront",
    "route53",
    "organizations",
    "waf",
    "globalaccelerator",
}


AZ_SUFFIXES = ("a", "b", "c", "d", "e", "f")

#: Availability zones per region, where a region has other than three.
AZ_COUNT = {"us-east-1": 6, "us-west-2": 4, "ap-northeast-2": 4, "us-west-1": 2}

_REGION_WORDS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "southeast": "se",
    "northwest": "nw",
    "southwest": "sw",
}


def stable_hex(*parts: str, length: int = 17) -> str:
    """A deterministic hex string of `length` characters derived from `parts`."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    while len(digest) < length:
        digest += hashlib.sha256(digest.encode()).hexdigest()
    return digest[:length]


def stable_uuid(*parts: str) -> str:
    h = stable_hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def stable_int(*parts: str, modulo: int) -> int:
    return int(stable_hex(*parts, length=12), 16) % modulo


def stable_digits(*parts: str, length: int) -> str:
    return str(int(stable_hex(*parts, length=length + 8), 16))[-length:].rjust(length, "0")


def autoname(logical_name: str, *salt: str) -> str:
    """Pulumi's default physical name: the logical name plus a dash and 7 random hex digits."""
    return f"{logical_name}-{stable_hex(logical_name, *salt, length=7)}"


def region_code(region: str) -> str:
    """The short code AWS uses in zone IDs: `us-east-1` -> `use1`, `ap-southeast-2` -> `apse2`."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    geo, *words, number = parts
    return geo + "".join(_REGION_WORDS.get(w, w[:1]) for w in words) + number


def fake_certificate_data(*parts: str) -> str:
    """Base64 of a PEM certificate block, as EKS reports `certificateAuthority.data`."""
    body = b"".join(hashlib.sha256(f"{'/'.join(parts)}#{i}".encode()).digest() for i in range(24))
    der = base64.b64encode(b"\x30\x82\x02\xfd" + body[:761]).decode()
    lines = [der[i : i + 64] for i in range(0, len(der), 64)]
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


def dig(value: Any, *path: str | int) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or len(value) <= step:
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step)
    return value


def content_md5(source: Any) -> str | None:
    """MD5 of an asset's bytes (S3's ETag for a single-part upload), where they can be read."""
    try:
        if isinstance(source, pulumi.FileAsset):
            return hashlib.md5(Path(source.path).read_bytes(), usedforsecurity=False).hexdigest()
        if isinstance(source, pulumi.StringAsset):
            return hashlib.md5(source.text.encode(), usedforsecurity=False).hexdigest()
    except OSError:
        return None
    if isinstance(source, str):
        return hashlib.md5(source.encode(), usedforsecurity=False).hexdigest()
    return None


def ipv4(first: int, *parts: str) -> str:
    """A stable IPv4 address in `first.0.0.0/8`."""
    h = stable_hex(*parts, length=6)
    return f"{first}.{int(h[:2], 16)}.{int(h[2:4], 16)}.{int(h[4:], 16) % 254 + 1}"


def public_dns(ip: str, region: str) -> str:
    """EC2's public DNS name for an address."""
    dashed = ip.replace(".", "-")
    if region == "us-east-1":
        return f"ec2-{dashed}.compute-1.amazonaws.com"
    return f"ec2-{dashed}.{region}.compute.amazonaws.com"


def private_dns(ip: str, region: str) -> str:
    """EC2's private DNS name for an address."""
    dashed = ip.replace(".", "-")
    if region == "us-east-1":
        return f"ip-{dashed}.ec2.internal"
    return f"ip-{dashed}.{region}.compute.internal"
