"""The engine's stand-in for the SDK's `_get_stack_trace` gives the SDK's answer, cheaper."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

from estate.offline import engine


def _both() -> tuple[bytes, bytes]:
    engine._install_sdk_stack_trace()  # as every render does
    assert sdk_resource._get_stack_trace is engine._sdk_stack_trace
    (original,) = engine._SDK_STACK_TRACE
    return (
        original().SerializeToString(deterministic=True),
        engine._sdk_stack_trace().SerializeToString(deterministic=True),
    )


class _Resource:  # plays pulumi.Resource: the first __init__ on the stack
    def __init__(self, into: list[Any]) -> None:
        into.append(_both())


class _Custom(_Resource):  # plays CustomResource / ComponentResource
    def __init__(self, into: list[Any]) -> None:
        super().__init__(into)


class _Bucket(_Custom):  # plays a provider's resource class
    def __init__(self, into: list[Any]) -> None:
        super().__init__(into)


class _Component:  # user code that builds resources in its own __init__
    def __init__(self, into: list[Any]) -> None:
        _Bucket(into)


def _user_code(into: list[Any]) -> None:
    _Bucket(into)
    _Component(into)


def test_same_stack_trace_as_the_sdk() -> None:
    into: list[Any] = []
    for _ in range(2):  # the second time from the same lines: the built trace is reused
        _user_code(into)
    _Custom(into)  # only two __init__ frames: the SDK gives an empty trace
    assert len(into) == 5
    for original, ours in into:
        assert ours == original
    assert into[0][1] and into[1][1] and into[0][1] != into[1][1]  # frames, and different ones
    assert into[4][1] == b""


def test_positions_name_user_frames() -> None:
    into: list[Any] = []
    _user_code(into)
    first = source_pb2.StackTrace.FromString(into[0][1])
    assert first.frames[0].pc.uri.endswith("test_engine_stack_trace.py")
    assert first.frames[0].pc.line > 0
