"""pulumi-random: results as the provider computes them, from a seed instead of the OS's RNG.

The provider (terraform-provider-random) produces its values at create time from the inputs:
a password of `length` characters from the enabled classes with the `min*` counts met, an ID of
`byteLength` bytes in hex and base64, a pet name of `length` words, an integer in `[min, max]`.
We produce values of exactly that shape, drawn from a generator seeded with the stack's salt and
the logical name, so a render stays deterministic (the same program gives the same inventory).
Property names are the SDK's wire names (`byteLength`, `b64Url`, `minUpper`).
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import stable_hex
from estate.offline.mocks.registry import package_resource

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks

#: The provider's default special characters (`overrideSpecial` replaces them).
DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"

#: A few of the provider's pet-name words (it ships thousands): adverbs, adjectives, names.
_ADVERBS = ("quickly", "gently", "boldly", "calmly", "deeply", "freely", "highly", "truly")
_ADJECTIVES = ("brave", "clever", "eager", "fancy", "gentle", "jolly", "mellow", "proud")
_NAMES = ("otter", "falcon", "badger", "heron", "lynx", "marmot", "osprey", "puffin")


def _rng(m: EstateMocks, typ: str, name: str) -> random.Random:
    return random.Random(stable_hex(typ, name, m.salt, length=32))


def _flag(inputs: dict[str, Any], key: str, default: bool = True) -> bool:
    value = inputs.get(key)
    return default if value is None else bool(value)


def random_text(rng: random.Random, inputs: dict[str, Any]) -> str:
    """`length` characters from the enabled classes, each class's `min*` count met, shuffled."""
    length = int(inputs.get("length") or 0)
    special = inputs.get("overrideSpecial")
    classes = [
        (_flag(inputs, "upper"), string.ascii_uppercase, int(inputs.get("minUpper") or 0)),
        (_flag(inputs, "lower"), string.ascii_lowercase, int(inputs.get("minLower") or 0)),
        (
            _flag(inputs, "numeric", _flag(inputs, "number")),
            string.digits,
            int(inputs.get("minNumeric") or 0),
        ),
        (
            _flag(inputs, "special"),
            DEFAULT_SPECIAL if special is None else str(special),
            int(inputs.get("minSpecial") or 0),
        ),
    ]
    chosen = [rng.choice(chars) for on, chars, least in classes if on for _ in range(least)]
    pool = "".join(chars for on, chars, _ in classes if on)
    chosen += [rng.choice(pool) for _ in range(max(length - len(chosen), 0))] if pool else []
    rng.shuffle(chosen)
    return "".join(chosen)


@package_resource("random:index/randomPassword:RandomPassword")
def _password(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    result = random_text(_rng(m, "password", name), inputs)
    # The provider stores a bcrypt hash beside it; a real one would need a bcrypt library and
    # a random salt: this has the shape ($2a$10$ + 53 characters) and is stable.
    digest = stable_hex("bcrypt", result, length=53)
    return "none", {**inputs, "result": result, "bcryptHash": f"$2a$10${digest}"}


@package_resource("random:index/randomString:RandomString")
def _string(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    result = random_text(_rng(m, "string", name), inputs)
    return result, {**inputs, "result": result}


@package_resource("random:index/randomId:RandomId")
def _id(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    data = _rng(m, "id", name).randbytes(int(inputs.get("byteLength") or 0))
    prefix = str(inputs.get("prefix") or "")
    b64_url = base64.urlsafe_b64encode(data).decode().rstrip("=")
    state = {
        **inputs,
        "hex": prefix + data.hex(),
        "b64Url": prefix + b64_url,
        "b64Std": prefix + base64.b64encode(data).decode(),
        "dec": prefix + str(int.from_bytes(data, "big")),
    }
    return prefix + b64_url, state


@package_resource("random:index/randomBytes:RandomBytes")
def _bytes(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    data = _rng(m, "bytes", name).randbytes(int(inputs.get("length") or 0))
    encoded = base64.b64encode(data).decode()
    return encoded, {**inputs, "base64": encoded, "hex": data.hex()}


@package_resource("random:index/randomPet:RandomPet")
def _pet(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rng = _rng(m, "pet", name)
    length = int(inputs.get("length") or 2)
    words = [rng.choice(_ADVERBS) for _ in range(max(length - 2, 0))]
    words += [rng.choice(_ADJECTIVES)] if length >= 2 else []
    words.append(rng.choice(_NAMES))
    if inputs.get("prefix"):
        words.insert(0, str(inputs["prefix"]))
    pet = str(inputs.get("separator") if inputs.get("separator") is not None else "-").join(words)
    return pet, dict(inputs)


@package_resource("random:index/randomInteger:RandomInteger")
def _integer(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    low, high = int(inputs.get("min") or 0), int(inputs.get("max") or 0)
    seed = str(inputs["seed"]) if inputs.get("seed") else stable_hex(name, m.salt)
    value = random.Random(seed).randint(min(low, high), max(low, high))
    return str(value), {**inputs, "result": value}


@package_resource("random:index/randomUuid:RandomUuid")
def _uuid(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    value = str(uuid.UUID(bytes=_rng(m, "uuid", name).randbytes(16), version=4))
    return value, {**inputs, "result": value}


@package_resource("random:index/randomShuffle:RandomShuffle")
def _shuffle(m: EstateMocks, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    items = list(inputs.get("inputs") or [])
    seed = str(inputs["seed"]) if inputs.get("seed") else stable_hex(name, m.salt)
    random.Random(seed).shuffle(items)
    count = inputs.get("resultCount")
    results = items[: int(count)] if count else items
    return "-", {**inputs, "results": results}
