"""The policy runner against the real pack process, over the real Analyzer gRPC protocol."""

from __future__ import annotations

from pathlib import Path

import pulumi_aws as aws
import pytest
from pulumi.runtime.proto import analyzer_pb2

from estate.offline.engine import render
from estate.offline.mocks import UNKNOWN
from estate.offline.runner import AnalyzerClient, PackError, effective_policy_config, run_pack

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "policies"


def bad_table_program() -> None:
    aws.dynamodb.Table(
        "orders",
        hash_key="id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        billing_mode="PAY_PER_REQUEST",
    )


def rendered(env: str | None):
    config = {"aws:region": "us-east-1"}
    if env:
        config["ai-estate:environment"] = env
    return render(bad_table_program, stack=f"shop-{env or 'none'}", project="shop", config=config)


def test_pack_describes_itself_like_the_cli_sees_it():
    inventory = rendered("prod")
    with AnalyzerClient(PACK, project="shop", stack="shop-prod", config=inventory.config) as client:
        info = client.info()
        assert info.name == "ai-estate-governance"
        assert len(info.policies) >= 15
        for p in info.policies:
            assert p.description and p.name
            assert p.severity != analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED
            assert p.policy_type in (
                analyzer_pb2.POLICY_TYPE_RESOURCE,
                analyzer_pb2.POLICY_TYPE_STACK,
            )
        assert client.plugin_version()


def test_environment_from_pulumi_config_picks_the_profile():
    prod = run_pack(PACK, rendered("prod"))
    dev = run_pack(PACK, rendered("dev"))
    level = lambda run, name: next(p.enforcement for p in run.policies if p.name == name)  # noqa: E731
    assert level(prod, "dynamodb-table-pitr") == "mandatory"
    assert level(dev, "dynamodb-table-pitr") == "advisory"
    assert level(dev, "dynamodb-table-deletion-protection") == "disabled"
    blocking = lambda run: {f.policy for f in run.findings if f.blocking}  # noqa: E731
    assert {"dynamodb-table-encryption-cmk", "dynamodb-table-pitr"} <= blocking(prod)
    assert "dynamodb-table-pitr" not in blocking(dev)
    assert "dynamodb-table-deletion-protection" not in {f.policy for f in dev.findings}
    # a program without our config is judged by the strictest profile
    assert blocking(run_pack(PACK, rendered(None))) == blocking(prod)


def test_policy_pack_config_overrides_enforcement_as_the_cli_does():
    run = run_pack(
        PACK,
        rendered("prod"),
        policy_config={
            "dynamodb-table-pitr": "disabled",
            "required-ownership-tags": {"enforcementLevel": "advisory"},
        },
    )
    policies = {f.policy: f for f in run.findings}
    assert "dynamodb-table-pitr" not in policies
    assert policies["required-ownership-tags"].enforcement == "advisory"


def test_findings_name_the_resource_and_strip_the_description_prefix():
    run = run_pack(PACK, rendered("prod"))
    finding = next(f for f in run.findings if f.policy == "dynamodb-table-encryption-cmk")
    assert finding.resource_name == "orders" and finding.resource_type == "aws:dynamodb/table:Table"
    assert finding.urn.endswith("::orders") and "orders" in finding.message
    assert not finding.message.startswith(finding.description)


def test_unknown_value_during_preview_is_an_advisory_not_a_crash():
    inventory = rendered("prod")
    table = next(r for r in inventory.resources if r.type == "aws:dynamodb/table:Table")
    table.inputs["pointInTimeRecovery"] = UNKNOWN
    run = run_pack(PACK, inventory)
    unknown = [f for f in run.findings if "during preview" in f.message]
    assert unknown and all(f.enforcement == "advisory" for f in unknown)
    assert not any(f.policy == "dynamodb-table-pitr" and f.blocking for f in run.findings)


def test_stack_policies_see_property_dependencies():
    def program() -> None:
        bucket = aws.s3.Bucket("data")
        aws.s3.BucketVersioning(
            "data-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
        )

    inventory = render(program, stack="prod", project="p", config={"ai-estate:environment": "prod"})
    run = run_pack(PACK, inventory)
    policies = {f.policy for f in run.findings}
    assert "s3-bucket-versioning" not in policies  # linked through propertyDependencies
    assert {"s3-bucket-encryption-cmk", "s3-bucket-public-access-block"} <= policies


def test_default_provider_default_tags_come_from_stack_config():
    tags = {
        k: "x"
        for k in (
            "BusinessUnit",
            "Owner",
            "CostCenter",
            "Environment",
            "DataClassification",
            "ManagedBy",
        )
    }
    inventory = render(
        bad_table_program,
        stack="prod",
        project="p",
        config={"ai-estate:environment": "prod", "aws:defaultTags": {"tags": tags}},
    )
    run = run_pack(PACK, inventory)
    assert "required-ownership-tags" not in {f.policy for f in run.findings}


def test_a_broken_pack_is_a_pack_error(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('broken pack')\n")
    inventory = rendered("prod")
    with pytest.raises(PackError):
        run_pack(tmp_path, inventory)


def test_effective_config_layers_defaults_initial_config_and_overrides():
    info = analyzer_pb2.AnalyzerInfo(name="p")
    info.policies.add(name="a", enforcementLevel=analyzer_pb2.MANDATORY)
    info.policies.add(name="b", enforcementLevel=analyzer_pb2.ADVISORY)
    config = effective_policy_config(
        info, {"all": "advisory", "b": {"enforcementLevel": "disabled", "x": 1}}
    )
    assert config == {
        "a": {"enforcementLevel": "advisory"},
        "b": {"enforcementLevel": "disabled", "x": 1},
    }


def _verdict(run) -> list[tuple[str, str, str, str]]:
    return sorted((f.policy, f.urn, f.message, f.enforcement) for f in run.findings)


def test_warm_pack_processes_are_the_pack_each_stack_would_start(monkeypatch):
    """`warm=True` forks each stack's pack from one host (estate/offline/packhost.py): a fresh
    process per stack, with that stack's environment, giving what a cold start gives."""
    from estate.offline import runner

    monkeypatch.delenv(runner.PACK_HOST_VARIABLE, raising=False)
    spawned = []
    real_spawn = runner.PackHost.spawn

    def spy(self, argv, env, cwd):
        child = real_spawn(self, argv, env, cwd)
        spawned.append((self.process.pid, child.pid, env["PULUMI_STACK"], argv))
        return child

    monkeypatch.setattr(runner.PackHost, "spawn", spy)
    for env in ("prod", "dev", "prod"):
        cold = run_pack(PACK, rendered(env))
        warm = run_pack(PACK, rendered(env), warm=True)
        assert _verdict(warm) == _verdict(cold) and _verdict(warm)
        assert [(p.name, p.enforcement) for p in warm.policies] == [
            (p.name, p.enforcement) for p in cold.policies
        ]
    hosts = {host for host, _, _, _ in spawned}
    assert len(hosts) == 1 and len({child for _, child, _, _ in spawned}) == 3
    assert [stack for _, _, stack, _ in spawned] == ["shop-prod", "shop-dev", "shop-prod"]
    assert spawned[0][3] == ["pulumi.policy", "127.0.0.1:1", str(PACK)]


def test_warm_start_can_be_turned_off(monkeypatch):
    from estate.offline import runner

    monkeypatch.setenv(runner.PACK_HOST_VARIABLE, "0")
    monkeypatch.setattr(runner.PackHost, "spawn", None)  # would fail if used
    assert _verdict(run_pack(PACK, rendered("prod"), warm=True))
