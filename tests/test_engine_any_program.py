"""Any team's Pulumi program, run as the Pulumi CLI would run it.

Config as the CLI assembles it (project defaults, the stack file with its `secure:` values,
`--config-file`, `--config` / `--config-secret`), the program's own virtualenv, a one-line
reason when a provider SDK is missing, pulumi-random and pulumi-tls answered with real results,
multi-language components reported as opaque, and engine bugs exiting 3.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from estate.offline import engine
from estate.offline.gate import render_stack
from estate.offline.model import Inventory, Resource
from estate.offline.project import ConfigOverrides, load_project, parse_config_args
from tests.test_cli import estate

PROGRAMS = Path(__file__).resolve().parent / "fixtures" / "programs"


def one(inventory: Inventory, type_: str, name: str | None = None) -> Resource:
    found = [r for r in inventory.resources if r.type == type_ and name in (None, r.name)]
    assert len(found) == 1, (type_, name, len(found))
    return found[0]


def render_dir(path: Path, overrides: ConfigOverrides | None = None) -> Inventory:
    try:
        return render_stack(load_project(path), "dev", overrides=overrides)
    finally:
        gc.collect()


def preview_json(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    done = estate("preview", *args, "--format", "json")
    return done.returncode, json.loads(done.stdout) if done.returncode == 0 else None, done.stderr


def rds(document: dict[str, Any]) -> dict[str, Any]:
    (found,) = [r for r in document["resources"] if r["type"] == "aws:rds/instance:Instance"]
    return found


DATABASE = str(PROGRAMS / "configured-database")


# -- config, as the Pulumi CLI assembles it ------------------------------------------------------


def test_project_defaults_and_the_stack_file_reach_the_program():
    code, doc, err = preview_json("--project", DATABASE)
    assert code == 0, err
    inputs = rds(doc)["inputs"]
    assert inputs["instanceClass"] == "db.t4g.micro"  # Pulumi.yaml `default:`
    assert inputs["allocatedStorage"] == 20  # typed default, read with require_int
    assert inputs["dbName"] == "orders"  # Pulumi.dev.yaml
    assert ".eu-west-1.rds.amazonaws.com" in doc["outputs"]["endpoint"]  # `aws:region` default
    assert doc["outputs"]["region"] == "eu-west-1"


def test_a_secure_value_is_a_secret_the_program_reads_without_its_ciphertext():
    code, doc, err = preview_json("--project", DATABASE)
    assert code == 0, err
    instance = rds(doc)
    assert instance["secretInputs"] == ["password"]
    assert instance["inputs"]["password"] == "[secret]"
    assert "AAABAHpgZ3" not in json.dumps(doc)  # the ciphertext is never a value


def test_command_line_config_wins_over_the_file_and_secrets_stay_out_of_the_output():
    code, doc, err = preview_json(
        "--project",
        DATABASE,
        "--config",
        "instanceClass=db.r6g.large",  # no namespace: the project's
        "-c",
        "aws:region=us-east-1",
        "--config-secret",
        "dbPassword=correct-horse-battery",
    )
    assert code == 0, err
    instance = rds(doc)
    assert instance["inputs"]["instanceClass"] == "db.r6g.large"
    assert instance["inputs"]["dbName"] == "orders"  # the file still applies
    assert ".us-east-1.rds.amazonaws.com" in doc["outputs"]["endpoint"]
    assert instance["secretInputs"] == ["password"]
    assert "correct-horse-battery" not in json.dumps(doc)


def test_the_secret_value_reaches_the_program_and_the_pack(tmp_path):
    given = ConfigOverrides(
        values={"orders-db:dbPassword": "correct-horse-battery"},
        secrets=frozenset({"orders-db:dbPassword"}),
    )
    inventory = render_dir(Path(DATABASE), given)
    instance = one(inventory, "aws:rds/instance:Instance")
    assert instance.inputs["password"] == "correct-horse-battery"
    assert instance.secret_inputs == ["password"]
    assert inventory.config["orders-db:dbPassword"] == "correct-horse-battery"


def test_a_config_file_replaces_the_stack_file(tmp_path):
    other = tmp_path / "Pulumi.other.yaml"
    other.write_text("config:\n  orders-db:dbName: ledger\n  orders-db:dbPassword: plain\n")
    code, doc, err = preview_json("--project", DATABASE, "--config-file", str(other))
    assert code == 0, err
    instance = rds(doc)
    assert instance["inputs"]["dbName"] == "ledger"
    assert "secretInputs" in instance  # require_secret marks it, whatever the file says
    assert instance["inputs"]["instanceClass"] == "db.t4g.micro"  # defaults still apply


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "no-equals-sign"], "--config 'no-equals-sign': expected KEY=VALUE"),
        (["--config", "=value"], "expected KEY=VALUE"),
        (["--config-file", "/nonexistent/Pulumi.x.yaml"], "--config-file: no such file"),
    ],
)
def test_bad_config_flags_are_one_line_usage_errors(args, message):
    done = estate("preview", "--project", DATABASE, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_config_key_without_a_namespace_belongs_to_the_project():
    values, secrets = parse_config_args(["size=large", "aws:region=eu-west-1"], ["pw=x"], "app")
    assert values == {"app:size": "large", "aws:region": "eu-west-1", "app:pw": "x"}
    assert secrets == {"app:pw"}


def test_missing_required_config_names_the_key(tmp_path):
    empty = tmp_path / "Pulumi.empty.yaml"
    empty.write_text("config: {}\n")
    done = estate("preview", "--project", DATABASE, "--config-file", str(empty))
    assert done.returncode == 2
    assert "orders-db:dbName" in done.stderr and "Traceback" not in done.stderr


# -- the program's own virtualenv, or one line naming what is missing ----------------------------


def _virtualenv_with(path: Path, modules: dict[str, str]) -> Path:
    """A virtualenv at `path` that sees the test environment's packages (pulumi, pulumi-aws) and
    has `modules` of its own: a team's venv after `pip install -r requirements.txt`."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(path)], check=True)
    (site,) = path.glob("lib/python3*/site-packages")
    ours = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir())
    # A .pth line adds a directory but runs none of the .pth files in it: estate itself
    # (installed editable here) is not importable in this venv except through the host's shim.
    (site / "test-environment.pth").write_text(f"{ours}\n")
    for name, text in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def own_venv(tmp_path) -> Path:
    program = tmp_path / "own-virtualenv"
    shutil.copytree(PROGRAMS / "own-virtualenv", program)
    return program


def test_a_program_runs_with_the_interpreter_of_its_own_virtualenv(own_venv):
    venv = _virtualenv_with(
        own_venv / "venv",
        {"acme_tags": "def standard(team):\n    return {'team': team, 'managed-by': 'pulumi'}\n"},
    )
    done = estate("check", "--project", str(own_venv), "--json", str(own_venv / "r.json"))
    assert done.returncode in (0, 1), done.stderr  # rendered and judged (a verdict)
    report = json.loads((own_venv / "r.json").read_text())
    (stack,) = report["stacks"]
    assert stack["error"] is None and stack["resources"] == 2
    code, doc, err = preview_json("--project", str(own_venv))
    assert code == 0, err
    assert Path(doc["outputs"]["interpreter"]).resolve() == venv.resolve()
    bucket = next(r for r in doc["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    assert bucket["inputs"]["tags"] == {"team": "analytics", "managed-by": "pulumi"}


def test_a_module_missing_from_the_virtualenv_names_it_and_the_pip_command(own_venv):
    _virtualenv_with(own_venv / "venv", {})
    done = estate("preview", "--project", str(own_venv))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "acme_tags" in line and "venv/bin/pip install acme-tags" in line


def test_a_virtualenv_that_does_not_exist_says_how_to_create_it(own_venv):
    done = estate("preview", "--project", str(own_venv))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "acme_tags" in line and "does not exist" in line and "python -m venv venv" in line


@pytest.mark.parametrize(
    ("module", "requirement"),
    [
        ("pulumi_random", "pulumi-random"),
        ("pulumi_tls", "pulumi-tls"),
        ("pulumi_command", "pulumi-command"),
        ("pulumi_docker", "pulumi-docker"),
        ("pulumi_awsx", "pulumi-awsx"),
        ("pulumi_awsx.ec2", "pulumi-awsx"),
        ("yaml", "PyYAML"),
    ],
)
def test_a_missing_provider_sdk_is_one_line_with_its_requirement(tmp_path, module, requirement):
    (tmp_path / "Pulumi.yaml").write_text("name: needs-sdk\nruntime: python\n")
    assert engine.requirement_for(module) == requirement
    missing = "pulumi_command_for_estate_tests"  # never installed anywhere
    (tmp_path / "__main__.py").write_text(f"import pulumi\nimport {missing}\n")
    done = estate("check", "--project", str(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if missing in ln]
    assert f"pip install {missing.replace('_', '-')}" in line
    assert "runtime.options.virtualenv" in line


# -- pulumi-random and pulumi-tls ------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_and_tls() -> Inventory:
    return render_dir(PROGRAMS / "random-and-tls")


def test_random_password_has_the_length_and_classes_asked_for(random_and_tls):
    password = random_and_tls.outputs["dbPassword"]
    assert len(password) == 32
    assert sum(c in "!#$%" for c in password) >= 2 and sum(c.isdigit() for c in password) >= 2
    assert set(password) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%"
    )
    token = random_and_tls.outputs["token"]
    assert len(token) == 16 and re.fullmatch(r"[a-z0-9]{16}", token)


def test_random_id_pet_integer_and_uuid_look_like_the_providers(random_and_tls):
    out = random_and_tls.outputs
    assert re.fullmatch(r"[0-9a-f]{8}", out["suffixHex"])
    raw = bytes.fromhex(out["suffixHex"])
    assert base64.urlsafe_b64decode(out["suffixB64"] + "==") == raw
    assert int(out["suffixDec"]) == int.from_bytes(raw, "big")
    bucket = one(random_and_tls, "aws:s3/bucket:Bucket", "artifacts")
    assert bucket.inputs["bucket"] == f"artifacts-{out['suffixHex']}"
    assert re.fullmatch(r"[a-z]+-[a-z]+", out["pet"])
    assert 20000 <= out["port"] <= 20999
    assert uuid.UUID(out["runId"]).version == 4


def test_tls_keys_are_real_and_reach_ec2(random_and_tls):
    key_pair = one(random_and_tls, "aws:ec2/keyPair:KeyPair")
    openssh = key_pair.inputs["publicKey"]
    assert openssh.startswith("ssh-ed25519 ")
    serialization.load_ssh_public_key(openssh.strip().encode())
    assert random_and_tls.outputs["sshFingerprint"].startswith("SHA256:")
    ca_key = serialization.load_pem_private_key(
        random_and_tls.outputs["caKeyPem"].encode(), password=None
    )
    assert ca_key.key_size == 2048  # type: ignore[union-attr]


def test_certificates_parse_and_chain_to_the_ca(random_and_tls):
    ca = x509.load_pem_x509_certificate(random_and_tls.outputs["caCert"].encode())
    server = x509.load_pem_x509_certificate(random_and_tls.outputs["serverCert"].encode())
    assert ca.subject.rfc4514_string() == "CN=Acme Internal CA,O=Acme"
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["api.acme.internal"]
    acm = one(random_and_tls, "aws:acm/certificate:Certificate")
    assert acm.inputs["certificateBody"] == random_and_tls.outputs["serverCert"]
    assert "privateKey" in acm.secret_inputs  # a tls private key is a secret output


def test_random_and_tls_results_are_the_same_on_every_render(random_and_tls):
    again = render_dir(PROGRAMS / "random-and-tls")
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(
        random_and_tls.to_json(), sort_keys=True
    )


# -- multi-language components, engine bugs -------------------------------------------------------


def test_a_remote_component_is_reported_as_opaque(tmp_path):
    report = tmp_path / "r.json"
    done = estate("check", "--project", str(PROGRAMS / "remote-component"), "--json", str(report))
    assert done.returncode in (0, 1), done.stderr
    (stack,) = json.loads(report.read_text())["stacks"]
    opaque = [f for f in stack["findings"] if f["policy"] == "opaque-component"]
    assert len(opaque) == 1
    assert opaque[0]["resource_type"] == "awsx:ec2:Vpc" and opaque[0]["resource_name"] == "main"
    assert opaque[0]["enforcement"] == "advisory"
    assert "awsx:ec2:Vpc 'main'" in opaque[0]["message"]


def test_a_bug_in_the_mocks_is_an_engine_error_not_the_programs(monkeypatch):
    from estate.offline.mocks import registry

    def broken(m, name, inputs):
        raise KeyError("a bug")

    monkeypatch.setitem(registry.PACKAGE_RESOURCES, "random:index/randomPet:RandomPet", broken)
    with pytest.raises(engine.EngineError, match="a bug in estate"):
        render_dir(PROGRAMS / "random-and-tls")


def test_an_engine_bug_exits_3_saying_it_is_a_bug(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi_aws as aws\naws.s3.Bucket('b')\n")
    hook = tmp_path / "sitecustomize.py"
    hook.write_text(
        "from estate.offline.mocks import core\n"
        "def broken(self, args):\n    raise RuntimeError('mock exploded')\n"
        "core.EstateMocks.new_resource = broken\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "estate", "preview", "--project", str(tmp_path), "--jobs", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    assert "a bug" in done.stderr and "mock exploded" in done.stderr


def _config_file_program(tmp_path: Path, file: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        f"import pulumi_kubernetes as k8s\nk8s.yaml.v2.ConfigFile('crds', file={file!r})\n"
    )
    return tmp_path


def test_a_local_config_file_is_expanded_as_the_provider_does(tmp_path):
    """`kubernetes:yaml/v2:ConfigFile` is a multi-language component; of a local file the engine
    renders its documents as children, named `<prefix>:<namespace>/<name>`, like the provider."""
    (tmp_path / "m.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: team}\n"
        "data: {level: info}\n---\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: widgets.example.com}\nspec: {group: example.com}\n"
    )
    inventory = render_dir(_config_file_program(tmp_path, "m.yaml"))
    (component,) = [r for r in inventory.resources if r.type == "kubernetes:yaml/v2:ConfigFile"]
    assert not component.remote
    children = {r.name: r for r in inventory.resources if r.parent == component.urn}
    assert set(children) == {"crds:team/settings", "crds:widgets.example.com"}
    assert children["crds:team/settings"].type == "kubernetes:core/v1:ConfigMap"
    assert children["crds:team/settings"].inputs["data"] == {"level": "info"}
    crd = children["crds:widgets.example.com"]
    assert crd.type == "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
    assert crd.urn.endswith(
        "::kubernetes:yaml/v2:ConfigFile$kubernetes:apiextensions.k8s.io/v1:"
        "CustomResourceDefinition::crds:widgets.example.com"
    )


def test_a_config_file_the_engine_cannot_read_stays_opaque(tmp_path):
    url = "https://example.com/install.yaml"
    inventory = render_dir(_config_file_program(tmp_path, url))
    (component,) = [r for r in inventory.resources if r.type == "kubernetes:yaml/v2:ConfigFile"]
    assert component.remote
    assert not [r for r in inventory.resources if r.parent == component.urn]
