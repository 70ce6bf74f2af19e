"""The one conversion from config models to component args, and the pairs the program uses."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pytest
from pydantic import BaseModel, ConfigDict, Field

from components.estate import BuEstateArgs, DedicatedCluster, PlatformEstateArgs
from estate.stack import program
from estate.stack.config import StackConfig, load_stack
from estate.stack.convert import ENABLED, ConversionError, key_mismatches, to_args

ROOT = Path(__file__).resolve().parent.parent


# -- unit: small models and TypedDicts --------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Item(_Frozen):
    name: str
    size: int = 1


class Section(_Frozen):
    enabled: bool = True
    level: int = 3


class Settings(_Frozen):
    title: str = "t"
    items: tuple[Item, ...] = ()
    tags: tuple[str, ...] = ()
    by_name: dict[str, Item] = {}
    limits: dict[str, str] = {}
    nested: Item = Item(name="n")
    section: Section = Section()
    note: str | None = None


class ItemArgs(TypedDict):
    name: str
    size: int


class SectionArgs(TypedDict):
    level: int


class SettingsArgs(TypedDict):
    title: str
    items: list[ItemArgs]
    tags: list[str]
    by_name: dict[str, ItemArgs]
    limits: dict[str, str]
    nested: ItemArgs
    section: SectionArgs | None
    note: NotRequired[str]
    wired: NotRequired[int]


def test_converts_nested_models_lists_and_maps():
    model = Settings(
        items=(Item(name="a", size=2), Item(name="b")),
        tags=("x", "y"),
        by_name={"k": Item(name="k")},
        limits={"cpu": "2"},
    )
    assert to_args(model, SettingsArgs) == {
        "title": "t",
        "items": [{"name": "a", "size": 2}, {"name": "b", "size": 1}],
        "tags": ["x", "y"],
        "by_name": {"k": {"name": "k", "size": 1}},
        "limits": {"cpu": "2"},
        "nested": {"name": "n", "size": 1},
        "section": {"level": 3},
    }


def test_a_field_without_an_args_key_fails():
    class Wider(Settings):
        forgotten: int = 0

    with pytest.raises(ConversionError, match=r"Wider\.forgotten has no key in SettingsArgs"):
        to_args(Wider(), SettingsArgs)


def test_a_nested_field_without_an_args_key_fails():
    class WiderItem(Item):
        colour: str = "red"

    class WithWiderItem(Settings):
        nested: WiderItem = WiderItem(name="n")

    with pytest.raises(ConversionError, match=r"WiderItem\.colour has no key in ItemArgs"):
        to_args(WithWiderItem(), SettingsArgs)


def test_a_required_key_without_a_source_fails():
    class Narrow(_Frozen):
        name: str

    with pytest.raises(ConversionError, match=r"required key.*size"):
        to_args(Narrow(name="a"), ItemArgs)


def test_consumed_fields_need_a_reason_and_must_exist():
    class Wider(Settings):
        mode: str = "shared"

    args = to_args(Wider(), SettingsArgs, consumed={"mode": "the program chooses with it"})
    assert "mode" not in args
    with pytest.raises(ConversionError, match=r"consumed field Settings\.nope"):
        to_args(Settings(), SettingsArgs, consumed={"nope": "?"})


def test_consumed_paths_reach_into_nested_models():
    class WiderItem(Item):
        colour: str = "red"

    class WithWiderItem(Settings):
        nested: WiderItem = WiderItem(name="n")

    args = to_args(WithWiderItem(), SettingsArgs, consumed={"nested.colour": "read elsewhere"})
    assert args["nested"] == {"name": "n", "size": 1}
    with pytest.raises(ConversionError, match=r"consumed field Settings\.nowhere"):
        to_args(Settings(), SettingsArgs, consumed={"nowhere.colour": "?"})


def test_wiring_values_must_be_args_keys_and_must_not_shadow_config():
    assert to_args(Settings(), SettingsArgs, wired=7)["wired"] == 7
    with pytest.raises(ConversionError, match="wiring key 'bogus'"):
        to_args(Settings(), SettingsArgs, bogus=1)
    with pytest.raises(ConversionError, match="would shadow the config field"):
        to_args(Settings(), SettingsArgs, title="other")


def test_an_enabled_switch_becomes_an_optional_section():
    off = to_args(Settings(section=Section(enabled=False)), SettingsArgs)
    assert off["section"] is None
    on = to_args(Settings(section=Section(level=5)), SettingsArgs)
    assert on["section"] == {"level": 5}


def test_none_for_a_not_required_key_that_admits_no_none_is_left_out():
    assert "note" not in to_args(Settings(), SettingsArgs)
    assert to_args(Settings(note="hi"), SettingsArgs)["note"] == "hi"


def test_none_for_a_required_key_that_admits_no_none_fails():
    class Loose(_Frozen):
        name: str | None = None
        size: int = 1

    with pytest.raises(ConversionError, match="None for a required key"):
        to_args(Loose(), ItemArgs)


def test_a_model_needs_a_typeddict_and_a_list_needs_a_list():
    class WrongArgs(TypedDict):
        name: int
        size: list[int]

    class Pair(_Frozen):
        name: Item = Item(name="a")
        size: int = Field(1)

    with pytest.raises(ConversionError, match="needs a TypedDict"):
        to_args(Pair(), WrongArgs)


# -- the pairs the program converts ---------------------------------------------------------


def _pairs(
    model: type[BaseModel], args: type, consumed: dict[str, str], seen: set[tuple[type, type]]
) -> list[tuple[type[BaseModel], type, dict[str, str]]]:
    """Every (model, TypedDict) pair a conversion from `model` to `args` goes through."""
    if (model, args) in seen:
        return []
    seen.add((model, args))
    found = [(model, args, consumed)]
    hints = typing.get_type_hints(args, localns=_PULUMI_NS)
    for name, info in model.model_fields.items():
        if name in consumed or name not in hints:
            continue
        sub_model = _model_in(info.annotation)
        sub_args = _typeddict_in(hints[name])
        if sub_model is not None and sub_args is not None:
            nested = {
                k.split(".", 1)[1]: v for k, v in consumed.items() if k.startswith(name + ".")
            }
            if ENABLED in sub_model.model_fields and ENABLED not in typing.get_type_hints(
                sub_args, localns=_PULUMI_NS
            ):
                nested[ENABLED] = "optional section"
            found.extend(_pairs(sub_model, sub_args, nested, seen))
    return found


def _walk(hint: Any) -> list[Any]:
    out = [hint]
    for arg in typing.get_args(hint):
        out.extend(_walk(arg))
    return out


def _model_in(hint: Any) -> type[BaseModel] | None:
    return next((h for h in _walk(hint) if isinstance(h, type) and issubclass(h, BaseModel)), None)


def _typeddict_in(hint: Any) -> type | None:
    return next((h for h in _walk(hint) if typing.is_typeddict(h)), None)


import pulumi.output  # noqa: E402

_PULUMI_NS = vars(pulumi.output)

_ROOTS: list[tuple[type[BaseModel], type, dict[str, str], set[str]]] = [
    (StackConfig, PlatformEstateArgs, program.PLATFORM_CONSUMED, {"protect", "tags"}),
    (
        StackConfig,
        BuEstateArgs,
        program.BU_CONSUMED,
        # the mlops section converts per family in program.mlops_gate_settings and by to_args
        # (the retraining and deploy dispatch pairs below)
        {
            "protect",
            "tags",
            "shared_cluster",
            "dedicated",
            "data_classification",
            "mlops_gate",
            "retraining",
            "deploy_dispatch",
        },
    ),
]
_DEDICATED = typing.get_type_hints(DedicatedCluster)


def _all_pairs() -> list[tuple[type[BaseModel], type, dict[str, str], set[str]]]:
    seen: set[tuple[type, type]] = set()
    pairs = []
    for model, args, consumed, wiring in _ROOTS:
        for m, a, c in _pairs(model, args, consumed, seen):
            pairs.append((m, a, c, wiring if (m, a) == (model, args) else set()))
    # what `program.dedicated_settings` converts for a BU with its own cluster
    # what `program.build_prometheus_rules` converts (monitoring.prometheusRules)
    # what `program.bu_args` converts with to_args per family and for the deploy dispatch
    from components.deploy_dispatch import DeployDispatchSettings
    from components.mlops import RetrainingSpec
    from components.prometheus_rules import PrometheusRulesSpec
    from estate.stack.config import (
        ClusterConfig,
        DeployDispatchConfig,
        NetworkConfig,
        PrometheusRulesConfig,
        RetrainingConfig,
    )

    for m, a, c in [
        *_pairs(RetrainingConfig, RetrainingSpec, {}, seen),
        *_pairs(DeployDispatchConfig, DeployDispatchSettings, {}, seen),
        *_pairs(NetworkConfig, _DEDICATED["network"], {}, seen),
        *_pairs(ClusterConfig, _DEDICATED["cluster"], {"mode": "shared or dedicated"}, seen),
        *_pairs(
            PrometheusRulesConfig, PrometheusRulesSpec, {"enabled": "builds the namespace"}, seen
        ),
    ]:
        pairs.append((m, a, c, set()))
    return pairs


PAIRS = _all_pairs()


@pytest.mark.parametrize(
    ("model", "args", "consumed", "wiring"),
    PAIRS,
    ids=[f"{m.__name__}->{a.__name__}" for m, a, _, _ in PAIRS],
)
def test_every_pair_the_program_converts_agrees_on_its_keys(model, args, consumed, wiring):
    assert key_mismatches(model, args, consumed) == []
    keys = set(typing.get_type_hints(args, localns=_PULUMI_NS))
    fields = set(model.model_fields) - set(consumed)
    # every args key comes from the config or from the program's wiring: nothing else exists
    assert keys - fields - wiring == set()
    assert wiring <= keys


def test_the_pairs_cover_every_config_model():
    from estate.stack import config

    # owners, gate thresholds and model cards convert per family in program.mlops_gate_settings
    # (checked by test_the_gate_settings_carry_every_family_key)
    mlops_gate = {
        config.MlopsConfig,
        config.MlopsFamilyConfig,
        config.ModelOwnersConfig,
        config.ValidationConfig,
        config.ThresholdConfig,
        config.ModelCardConfig,
    }

    models = {
        v
        for v in vars(config).values()
        if isinstance(v, type) and issubclass(v, config._Model) and v is not config._Model
    }
    converted = {m for m, _, _, _ in PAIRS}
    # waivers are the policy pack's, not a component's (see program.PLATFORM_CONSUMED);
    # thresholds convert to a map, checked against the component's defaults below
    # the serving section converts per endpoint and for the plane in program.build_serving
    # (checked by test_serving_converts_without_hand_copies); its OIDC issuer is exported as is
    serving = {
        config.ServingConfig,
        config.ServingEndpointConfig,
        config.ServingScheduleConfig,
        config.ServingCanaryConfig,
    }
    assert models - converted == {
        config.WaiverConfig,
        config.MonitoringThresholdsConfig,
        config.ServingOidcConfig,
        *serving,
        *mlops_gate,
    }


def test_serving_converts_without_hand_copies():
    from components.serving import EndpointSpec, ServingPlaneArgs
    from estate.stack import config
    from estate.stack.convert import key_mismatches

    consumed = {"enabled": "", "oidc": "", "endpoints": ""}
    assert not key_mismatches(config.ServingConfig, ServingPlaneArgs, consumed)
    assert not key_mismatches(config.ServingEndpointConfig, EndpointSpec, {"image": ""})
    fraud = load_stack(ROOT / "stacks" / "Pulumi.fraud-prod.yaml").config
    [endpoint] = fraud.serving.endpoints
    assert endpoint.route_path == "/fraud/card-scoring"  # resolved in the schema


def test_threshold_fields_are_the_components_threshold_keys():
    from components.monitoring import DEFAULT_THRESHOLDS
    from estate.stack.config import MonitoringThresholdsConfig

    assert set(MonitoringThresholdsConfig.model_fields) == set(DEFAULT_THRESHOLDS)


@pytest.mark.parametrize("stack", ["platform-dev", "platform-prod", "fraud-prod", "marketing-dev"])
def test_shipped_stacks_convert(stack):
    config = load_stack(ROOT / "stacks" / f"Pulumi.{stack}.yaml").config
    tags = program.stack_tags(config)
    if config.kind == "platform":
        args: Any = program.platform_args(config, tags)
        assert args["network"]["nat_gateways"] in ("single", "perAz")
    else:
        args = program.bu_args(config, tags, shared=None)
        assert args["dedicated"] is not None
        assert args["tenant"]["gpu_quota"] >= 0
        assert args["monitoring"]["subscriptions"]
    assert args["tags"] == tags


# -- defaults derived from other settings are resolved in the schema --------------------------


def _stack(stack: str, **overrides: Any) -> StackConfig:
    import yaml

    from estate.stack.config import split_namespace, validate_config

    raw = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw.update({f"ai-estate:{k}": v for k, v in overrides.items()})
    return validate_config(split_namespace(raw), stack)


def test_environment_defaults_are_resolved_in_the_schema():
    prod, dev = _stack("platform-prod"), _stack("platform-dev")
    assert (prod.network.nat_gateways, dev.network.nat_gateways) == ("perAz", "single")
    assert (prod.network.flow_log_retention_days, dev.network.flow_log_retention_days) == (365, 90)
    assert (prod.cluster.log_retention_days, dev.cluster.log_retention_days) == (365, 90)
    # what the stack file sets wins
    mine = _stack("platform-prod", network={"natGateways": "single", "flowLogRetentionDays": 30})
    assert (mine.network.nat_gateways, mine.network.flow_log_retention_days) == ("single", 30)


def test_the_gpu_quota_defaults_to_the_pools_caps():
    from components.gpu_pools import GpuPoolSpec, effective_max_gpus

    fraud = _stack("fraud-prod")
    caps = [effective_max_gpus(to_args(p, GpuPoolSpec)) for p in fraud.gpu_pools]
    # less what the BU may borrow through Kueue (issue 13): quota + borrowing is the pools' caps
    borrowing = fraud.tenant.gpu_borrowing_limit
    assert fraud.tenant.gpu_quota + borrowing == sum(caps) > borrowing > 0
    assert _stack("marketing-dev").tenant.gpu_quota == 4  # set in the stack file (physical GPUs)


def test_alarms_go_to_the_owner_when_no_one_subscribes():
    dev = _stack("marketing-dev")
    assert [(s.protocol, s.endpoint) for s in dev.monitoring.subscriptions] == [
        ("email", "marketing-data@example.com")
    ]
    fraud = _stack("fraud-prod")
    assert "fraud-ml@example.com" not in {s.endpoint for s in fraud.monitoring.subscriptions}


def test_the_gate_settings_carry_every_family_key():
    """program.mlops_gate_settings copies owners, thresholds and cards key by key."""
    from components.model_cards import ModelCardSpec, OwnersSpec
    from components.validation_gate import ThresholdSpec
    from estate.stack import config
    from estate.stack.convert import key_mismatches

    assert not key_mismatches(config.ModelOwnersConfig, OwnersSpec, {})
    assert not key_mismatches(config.ThresholdConfig, ThresholdSpec, {})
    assert not key_mismatches(config.ModelCardConfig, ModelCardSpec, {})
    settings = program.mlops_gate_settings(
        load_stack(ROOT / "stacks" / "Pulumi.fraud-prod.yaml").config
    )
    assert settings is not None
    assert set(settings["thresholds"]) == {"card-fraud", "merchant-risk"}
    assert settings["cards"]["card-fraud"]["kpi"] == "fraud_loss_prevented_usd"
    assert settings["owners"]["merchant-risk"]["risk"] == "model-risk@example.com"
