"""Stack files are parsed once per process by their text: a caller never sees another's edits,
an edited file is read anew, and a bad file fails the same way every time."""

from __future__ import annotations

import pytest

from estate.stack.config import ConfigError, read_stack_file


def test_each_read_is_a_fresh_copy_of_the_file_as_it_is_now(tmp_path):
    path = tmp_path / "Pulumi.shop-dev.yaml"
    path.write_text("config:\n  aws:region: us-east-1\n  shop:tags: {team: a}\n")
    first = read_stack_file(path)
    first["shop:tags"]["team"] = "changed by a caller"
    second = read_stack_file(path)
    assert second == {"aws:region": "us-east-1", "shop:tags": {"team": "a"}}
    path.write_text("config:\n  aws:region: eu-west-1\n")
    assert read_stack_file(path) == {"aws:region": "eu-west-1"}


def test_a_bad_file_fails_the_same_way_every_time(tmp_path):
    path = tmp_path / "Pulumi.shop-dev.yaml"
    path.write_text("config:\n  region: us-east-1\n")
    messages = []
    for _ in range(2):
        with pytest.raises(ConfigError) as caught:
            read_stack_file(path, "stacks/Pulumi.shop-dev.yaml")
        messages.append(caught.value.lines)
    assert messages[0] == messages[1]
    assert "stacks/Pulumi.shop-dev.yaml" in messages[0][0] and "namespaced" in messages[0][0]
