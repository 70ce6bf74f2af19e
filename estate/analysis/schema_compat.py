"""Glue Schema Registry compatibility of a changed AVRO schema, judged before `pulumi up`.

Glue checks a new schema version against the registered one under the schema's compatibility
mode and refuses to register an incompatible version. For `BACKWARD` (the feature schemas'
mode, `components/data_quality.py`) the new schema must *read* data written with the old one:
removing a field is fine, adding one needs a default, and a field's type may only change by an
Avro promotion (int -> long/float/double, long -> float/double, float -> double,
string <-> bytes). `FORWARD` swaps reader and writer, `FULL` needs both; the `*_ALL` modes check
every earlier version, of which `--base` knows one (the base ref's), so they are judged the
same way against it.
See https://docs.aws.amazon.com/glue/latest/dg/schema-registry.html#schema-registry-compatibility

The verdict is Apache Avro's own resolution rules (`avro.compatibility`, the Python port of the
Java `SchemaCompatibility` that Glue's AVRO checker uses); this module adds the per-field
reasons a reviewer needs, naming the field.
"""

from __future__ import annotations

import json
from typing import Any

import avro.compatibility as avro_compat
import avro.errors as avro_errors
import avro.schema as avro_schema

#: Glue compatibility mode -> the (reader, writer) directions a new version must satisfy.
DIRECTIONS: dict[str, tuple[str, ...]] = {
    "NONE": (),
    "DISABLED": (),
    "BACKWARD": ("backward",),
    "BACKWARD_ALL": ("backward",),
    "FORWARD": ("forward",),
    "FORWARD_ALL": ("forward",),
    "FULL": ("backward", "forward"),
    "FULL_ALL": ("backward", "forward"),
}


def _type_name(schema: avro_schema.Schema) -> str:
    """`long`, `["null", "string"]`: a field type as a reviewer reads it in the schema."""
    return json.dumps(schema.to_json(), separators=(", ", ": "))


def _compatible(reader: avro_schema.Schema, writer: avro_schema.Schema) -> bool:
    result = avro_compat.ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return result.compatibility is avro_compat.SchemaCompatibilityType.compatible


def _reader_problems(reader: avro_schema.Schema, writer: avro_schema.Schema) -> list[str]:
    """Why `reader` cannot read data written with `writer`, one sentence per field."""
    if _compatible(reader, writer):
        return []
    if not (
        isinstance(reader, avro_schema.RecordSchema)
        and isinstance(writer, avro_schema.RecordSchema)
    ):
        return [f"type {_type_name(writer)} cannot be read as {_type_name(reader)}"]
    problems = []
    if reader.fullname != writer.fullname:
        problems.append(f"record name changed from {writer.fullname} to {reader.fullname}")
    written = {f.name: f for f in writer.fields}
    for field in reader.fields:
        old = written.get(field.name)
        if old is None:
            if not field.has_default:
                problems.append(
                    f"field '{field.name}' was added without a default (records written "
                    "before it have no value for it)"
                )
        elif not _compatible(field.type, old.type):
            problems.append(
                f"field '{field.name}' changed type from {_type_name(old.type)} to "
                f"{_type_name(field.type)} (not an Avro promotion)"
            )
    # Avro's verdict is the authority; say what it said if no field explains it.
    if not problems:
        result = avro_compat.ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
        problems.append("; ".join(sorted(result.messages)) or "incompatible")
    return problems


def incompatibilities(old: str | dict[str, Any], new: str | dict[str, Any], mode: str) -> list[str]:
    """Why the `new` AVRO schema cannot be registered as the next version of `old` under the
    Glue compatibility `mode`; empty when it can (or the mode checks nothing).

    `old` and `new` are schema definitions (JSON text or parsed); an unparsable one raises
    `ValueError` naming the side."""
    directions = DIRECTIONS.get(mode.upper())
    if directions is None:
        raise ValueError(f"unknown Glue compatibility mode {mode!r}")
    parsed = []
    for side, text in (("old", old), ("new", new)):
        try:
            parsed.append(avro_schema.parse(text if isinstance(text, str) else json.dumps(text)))
        except (avro_errors.AvroException, ValueError) as exc:
            raise ValueError(f"the {side} schema is not valid AVRO: {exc}") from exc
    before, after = parsed
    problems = []
    if "backward" in directions:
        problems += _reader_problems(after, before)
    if "forward" in directions:
        problems += [f"readers on the old schema: {p}" for p in _reader_problems(before, after)]
    return problems
