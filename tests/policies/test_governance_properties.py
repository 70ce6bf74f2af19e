"""Every rule of the pack survives whatever the engine can send it.

The engine hands a rule whatever a program declared: properties missing, of the wrong type
(numbers as floats or strings, booleans as `"true"`, documents as JSON strings or as objects),
nested the wrong way, or unknown during preview. A rule that raises on such input does not fail
closed: the SDK reports the exception as an error of the whole analysis. So every rule in
`governance.RULES` — discovered at collection time, so rules added later are covered without
touching this file — is fed:

- realistic shapes: the inputs of every shipped stack and of the bad and good programs the rule
  tests already render (any `test_governance_*` module's dict of rule id to case), as the offline
  engine records them, with JSON documents held in strings opened up so faults reach inside;
- every single fault at every property of the resources the rule looks at (deleted, null, wrong
  type, absurd number, unknown) — deterministic and exhaustive, which finds the one-step crashes;
- hypothesis: random JSON-like properties keyed by the words the rule's own module uses (its
  string literals), and several random mutations at once of the realistic shapes; stack rules get
  random resource lists, cross-linked by parent, dependencies and property dependencies;
- unknown values: the SDK's sentinels in random places, read through
  `pulumi_policy.proxy.unknown_checking_proxy` exactly as the analyzer reads them.

Without unknowns a rule must not raise at all; with them it may raise only `UnknownValueError`
(the SDK turns it into the advisory "can't run policy during preview") or the SDK's own
not-applicable signal. Every reported violation is a non-empty string, about a resource of the
stack when it names one. Runs are derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from governance import RULES
from governance.catalog import ENVIRONMENTS, Rule, bind
from governance.profiles import Profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_harness import render_program
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy import policy as sdk_policy
from pulumi_policy import proxy as sdk_proxy
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from estate.offline.mocks import UNKNOWN
from estate.offline.model import Inventory
from estate.offline.project import load_project

HERE = Path(__file__).resolve().parent

SENTINELS: tuple[str, ...] = tuple(
    value
    for name, value in sorted(vars(sdk_proxy).items())
    if name.startswith("UNKNOWN_") and name.endswith("_VALUE")
)
"""The SDK's unknown sentinels (string, number, boolean, array, object, asset, archive)."""

ALLOWED_WITH_UNKNOWNS: tuple[type[BaseException], ...] = (
    UnknownValueError,
    # `args.not_applicable()` raises this; the SDK reports it as "not applicable", not an error.
    *[e for e in [getattr(sdk_policy, "_NotApplicableError", None)] if e is not None],
)

TYPE_TOKEN = re.compile(r"^[a-z][a-z0-9-]*:[A-Za-z0-9/._-]*:[A-Za-z][A-Za-z0-9]*$")
KEY_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9:_./-]{0,47}$")

COMMON_TYPES: tuple[str, ...] = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:kms/key:Key",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/vpc:Vpc",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:ecr/repository:Repository",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    "aws:cloudwatch/logGroup:LogGroup",
    "kubernetes:core/v1:Namespace",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:helm.sh/v3:Release",
    "pulumi:providers:aws",
    "pulumi:providers:kubernetes",
    "pulumi:pulumi:StackReference",
    "ai-estate:estate:BuEstate",
)
"""Types fed to every rule besides its own, so type guards are exercised too."""

TRICKY_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "true",
    "false",
    "True",
    "null",
    "0",
    "-1",
    "65536",
    "1e999",
    "inf",
    "nan",
    "0x1f",
    "[]",
    "{}",
    "*",
    "all",
    "0.0.0.0/0",
    "::/0",
    "alias/aws/s3",
    "arn:aws:kms:us-east-1:111111111111:alias/aws/sns",
    "arn:aws:kms:us-east-1:111111111111:key/0b6e3a6c-1b1e-4e2e-9f3c-000000000000",
    UNKNOWN,
)

DELETE = object()
"""A fault: the property is missing."""

FAULTS: tuple[Any, ...] = (
    DELETE,
    None,
    True,
    0,
    -1,
    1e20,
    10**30,
    "",
    "x",
    "inf",
    [],
    {},
    [None],
    ["x"],
    {"x": "y"},
)
"""What the single-fault sweep puts at each property (besides its retyped and wrapped self)."""

MAX_PATHS = 40
"""Properties of one resource the sweep faults, at most (about; evenly spread)."""


# -- what each rule looks at --------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """The words a rule's code uses: candidate property keys, values and resource types."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    types: tuple[str, ...]


def _validate_module(rule: Rule) -> ModuleType:
    func = inspect.unwrap(rule.validate)
    func = getattr(func, "func", func)  # functools.partial
    return sys.modules[getattr(func, "__module__", None) or "governance"]


def _governance_modules(rule: Rule) -> list[ModuleType]:
    """The rule's module and the governance modules it draws functions or constants from."""
    module = _validate_module(rule)
    found = {module.__name__: module}
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            owner: ModuleType | None = value
        elif inspect.isfunction(value) or inspect.isclass(value):
            owner = sys.modules.get(value.__module__)
        else:
            owner = None
        if owner is not None and owner.__name__.startswith("governance"):
            found[owner.__name__] = owner
    return [found[name] for name in sorted(found)]


def _string_literals(module: ModuleType) -> set[str]:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return set()
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and len(node.value) <= 64
        and "\n" not in node.value
    }


def _type_tokens(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        if TYPE_TOKEN.match(value):
            yield value
    elif depth < 3 and isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            yield from _type_tokens(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in (*value.keys(), *value.values()):
            yield from _type_tokens(item, depth + 1)


_VOCABULARIES: dict[str, Vocabulary] = {}


def vocabulary(rule: Rule) -> Vocabulary:
    """What `rule`'s code talks about (once per rule id: rules hold dicts, so are not hashable)."""
    if rule.id not in _VOCABULARIES:
        words: set[str] = set()
        types: set[str] = set(rule.resource_types)
        for module in _governance_modules(rule):
            words |= _string_literals(module)
            for value in vars(module).values():
                types.update(_type_tokens(value))
        types |= {w for w in words if TYPE_TOKEN.match(w)}
        _VOCABULARIES[rule.id] = Vocabulary(
            keys=tuple(sorted(w for w in words if KEY_WORD.match(w))),
            values=tuple(sorted(words)),
            types=tuple(sorted(types)),
        )
    return _VOCABULARIES[rule.id]


def looked_at(rule: Rule) -> frozenset[str]:
    """The resource types a rule reads: its type filter, else the type tokens its code names."""
    return frozenset(rule.resource_types or vocabulary(rule).types)


# -- realistic shapes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """One rendered resource, in plain data (links by URN)."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    protect: bool = False
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: tuple[tuple[str, tuple[str, ...]], ...] = ()


Stack = tuple[Recorded, ...]


def _recorded(inventory: Inventory) -> Stack:
    return tuple(
        Recorded(
            urn=r.urn,
            type=r.type,
            name=r.name,
            inputs=copy.deepcopy(r.inputs),
            protect=r.protect,
            parent=r.parent,
            dependencies=tuple(r.dependencies),
            property_dependencies=tuple(
                (prop, tuple(urns)) for prop, urns in sorted(r.property_dependencies.items())
            ),
        )
        for r in inventory.resources
    )


def rule_programs() -> tuple[dict[str, list[Callable[[], Any]]], list[str]]:
    """Rule id -> the bad and good programs the rule tests render; plus why any were unreadable.

    Rule tests keep a module-level dict of rule id to case (a `Case` with `bad`/`good`, or a tuple
    holding the programs); every callable in a case is a program.
    """
    ids = {r.id for r in RULES}
    programs: dict[str, list[Callable[[], Any]]] = {}
    problems: list[str] = []
    for path in sorted(HERE.glob("test_governance_*.py")):
        if path.stem == Path(__file__).stem:
            continue
        try:
            module = importlib.import_module(path.stem)
        except Exception as exc:  # a rule test being written: its programs are its own concern
            problems.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        for value in vars(module).values():
            if not isinstance(value, dict) or not value or not set(value) <= ids:
                continue
            for rule_id, case in value.items():
                parts = case if isinstance(case, tuple) else vars(case).values()
                programs.setdefault(rule_id, []).extend(p for p in parts if callable(p))
    return programs, problems


class Corpus:
    """Rendered stacks: every shipped stack, then each rule test program that renders."""

    PER_TYPE = 2
    """Distinct resources of one type worth sweeping (more are near-copies: dev and prod)."""

    MAX_SWEPT = 40
    """Resources swept per rule, at most (rules over hundreds of types get an even spread)."""

    def __init__(self, stacks: tuple[Stack, ...], problems: tuple[str, ...]) -> None:
        self.stacks = stacks
        self.problems = problems
        self._by_type: dict[str, list[Recorded]] = {}
        seen: set[str] = set()
        for stack in stacks:
            for record in stack:
                shape = json.dumps([record.type, record.inputs], sort_keys=True, default=str)
                if shape not in seen:
                    seen.add(shape)
                    self._by_type.setdefault(record.type, []).append(record)
        self._cuts: dict[frozenset[str], list[Stack]] = {}

    def resources(self, types: frozenset[str], per_type: int | None = None) -> list[Recorded]:
        """Distinct rendered resources of these types (at most `per_type` of each)."""
        return [r for t in sorted(types) for r in self._by_type.get(t, [])[:per_type]]

    def stacks_with(self, types: frozenset[str]) -> list[Stack]:
        """The stacks with a resource of these types, cut down to those resources."""
        if types not in self._cuts:
            cuts = (tuple(r for r in s if r.type in types) for s in self.stacks)
            self._cuts[types] = [cut for cut in cuts if cut]
        return self._cuts[types]


@pytest.fixture(scope="module")
def corpus(rendered) -> Corpus:
    stacks = [_recorded(rendered(name)) for name in load_project().stacks()]
    assert any(stacks), "no shipped stack rendered: nothing realistic to mutate"
    programs, problems = rule_programs()
    for rule_id in sorted(programs):
        for program in programs[rule_id]:
            try:
                stacks.append(_recorded(render_program(program, environment="prod")))
            except Exception as exc:
                problems.append(f"{rule_id}: {getattr(program, '__name__', program)}: {exc}")
    return Corpus(tuple(stacks), tuple(problems))


# -- JSON documents held in strings -------------------------------------------------------------


class Encoded:
    """A JSON document the engine sends as a string, opened up so faults reach inside it."""

    __slots__ = ("doc",)

    def __init__(self, doc: Any) -> None:
        self.doc = doc


INSIDE = "<inside the JSON string>"
"""The path step from an `Encoded` string into its document."""


def opened(value: Any) -> Any:
    """`value` with JSON object/array strings turned into `Encoded` documents."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            doc = json.loads(value)
        except ValueError:
            return value
        return Encoded(opened(doc)) if isinstance(doc, (dict, list)) else value
    if isinstance(value, dict):
        return {k: opened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [opened(v) for v in value]
    return value


def closed(value: Any, unknowns: bool) -> Any:
    """Back to what the engine sends: documents as strings, `<computed>` as the SDK's sentinel."""
    if isinstance(value, Encoded):
        return json.dumps(closed(value.doc, unknowns=False))
    if isinstance(value, dict):
        return {k: closed(v, unknowns) for k, v in value.items()}
    if isinstance(value, list):
        return [closed(v, unknowns) for v in value]
    if value == UNKNOWN and unknowns:
        return sdk_proxy.UNKNOWN_STRING_VALUE
    return value


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every node's path, the root's (`()`) first."""
    yield prefix
    if isinstance(value, Encoded):
        yield from paths(value.doc, (*prefix, INSIDE))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def at(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root.doc if step == INSIDE and isinstance(root, Encoded) else root[step]
    return root


def put(root: Any, path: tuple[Any, ...], new: Any) -> None:
    """Set the node at `path` (not the root) to `new`; `DELETE` removes it."""
    parent, last = at(root, path[:-1]), path[-1]
    if isinstance(parent, Encoded):
        parent.doc = {} if new is DELETE else new
    elif new is DELETE:
        del parent[last]
    else:
        parent[last] = new


def replaced(root: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `root` with the node at `path` replaced (`DELETE` removes it).

    Only the nodes along the path are copied; the rest is shared (rules never write to props).
    """
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(root, Encoded):
        return Encoded({} if not rest and new is DELETE else replaced(root.doc, rest, new))
    copied = dict(root) if isinstance(root, dict) else list(root)
    if not rest and new is DELETE:
        del copied[step]
    else:
        copied[step] = replaced(root[step], rest, new)
    return copied


def retyped(value: Any) -> Any:
    """The same value as another JSON type, as providers and the engine sometimes send it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return [value]
    if isinstance(value, Encoded):
        return value.doc
    if isinstance(value, (dict, list)):
        return json.dumps(closed(value, unknowns=False))
    return ""


def single_faults(inputs: dict[str, Any], unknowns: bool) -> Iterator[tuple[str, Any]]:
    """(where, inputs with one fault) for every property and every fault of `FAULTS`."""
    base = opened(inputs)
    every = list(paths(base))[1:]
    # Large documents (Helm values, manifests) are sampled evenly: the rule reads few of them.
    for path in every[:: max(1, len(every) // MAX_PATHS)]:
        if unknowns and INSIDE in path:
            continue  # a value inside a JSON string is never unknown: the whole string would be
        node = at(base, path)
        faults = [*FAULTS, retyped(node), [node]]
        if unknowns:
            faults = [sdk_proxy.UNKNOWN_STRING_VALUE, sdk_proxy.UNKNOWN_OBJECT_VALUE]
        for fault in faults:
            variant = replaced(base, path, fault)
            where = ".".join(str(p) for p in path)
            yield (
                f"{where} = {'<missing>' if fault is DELETE else repr(fault)[:40]}",
                closed(variant, unknowns),
            )


# -- building what the analyzer passes ----------------------------------------------------------


def _options(protect: bool, parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent,
    )


def _urn(rtype: str, name: str) -> str:
    return f"urn:pulumi:fraud-prod::ai-estate::{rtype}::{name}"


def resource_args_for(
    record: Recorded, inputs: dict[str, Any], provider: PolicyProviderResource | None = None
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        record.type,
        unknown_checking_proxy(inputs),
        record.urn,
        record.name,
        _options(record.protect, record.parent),
        provider,
        None,
    )


def stack_args_for(
    records: list[Recorded], provider: PolicyProviderResource | None = None
) -> StackValidationArgs:
    """What `AnalyzeStack` passes: resources cross-linked as objects, props behind the proxy."""
    resources = {
        r.urn: PolicyResource(
            r.type,
            unknown_checking_proxy(r.inputs),
            r.urn,
            r.name,
            _options(r.protect, r.parent),
            provider,
            None,
            [],
            {},
        )
        for r in records
    }
    for r in records:
        resource = resources[r.urn]
        resource.parent = resources.get(r.parent or "")
        resource.dependencies = [resources[u] for u in r.dependencies if u in resources]
        resource.property_dependencies = {
            prop: [resources[u] for u in urns if u in resources]
            for prop, urns in r.property_dependencies
        }
    return StackValidationArgs(list(resources.values()))


# -- strategies ---------------------------------------------------------------------------------

_STRATEGIES: dict[tuple[str, Vocabulary, bool], st.SearchStrategy[Any]] = {}


def _memo(
    kind: str, vocab: Vocabulary, unknowns: bool, build: Callable[[], st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """Build each strategy once: building is slow, and hypothesis caches per strategy object."""
    key = (kind, vocab, unknowns)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = build()
    return _STRATEGIES[key]


def _keys(vocab: Vocabulary) -> st.SearchStrategy[str]:
    text = st.text(max_size=8)
    return st.sampled_from(vocab.keys) | text if vocab.keys else text


def json_values(vocab: Vocabulary, unknowns: bool) -> st.SearchStrategy[Any]:
    """JSON-like values; objects sometimes arrive serialised, as policy documents do."""

    def build() -> st.SearchStrategy[Any]:
        scalars: list[st.SearchStrategy[Any]] = [
            st.none(),
            st.booleans(),
            st.integers(min_value=-(10**20), max_value=10**20),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=12),
            st.sampled_from(TRICKY_STRINGS),
        ]
        if vocab.values:
            scalars.append(st.sampled_from(vocab.values))
        if unknowns:
            scalars.append(st.sampled_from(SENTINELS))
        keys = _keys(vocab)
        return st.recursive(
            st.one_of(scalars),
            lambda children: st.one_of(
                st.lists(children, max_size=4),
                st.dictionaries(keys, children, max_size=5),
                st.dictionaries(keys, children, max_size=4).map(json.dumps),
            ),
            max_leaves=14,
        )

    return _memo("json", vocab, unknowns, build)


def random_props(vocab: Vocabulary, unknowns: bool) -> st.SearchStrategy[dict[str, Any]]:
    return _memo(
        "props",
        vocab,
        unknowns,
        lambda: st.dictionaries(_keys(vocab), json_values(vocab, unknowns), max_size=8),
    )


def providers(
    vocab: Vocabulary, unknowns: bool
) -> st.SearchStrategy[PolicyProviderResource | None]:
    """No provider, or an AWS/Kubernetes provider whose inputs (defaultTags, ...) are random."""

    def build() -> st.SearchStrategy[PolicyProviderResource | None]:
        values = json_values(vocab, unknowns)
        tags = st.fixed_dictionaries({"tags": values})
        props = st.fixed_dictionaries(
            {},
            optional={
                "defaultTags": st.one_of(values, tags, tags.map(json.dumps)),
                "region": values,
                "allowedAccountIds": values,
            },
        )
        provider_type = st.sampled_from(["pulumi:providers:aws", "pulumi:providers:kubernetes"])
        return st.none() | st.builds(
            lambda t, p: PolicyProviderResource(
                t, unknown_checking_proxy(p), _urn(t, "default"), "default"
            ),
            provider_type,
            props,
        )

    return _memo("provider", vocab, unknowns, build)


MUTATIONS = ("replace", "unknown", "delete", "wrap", "unwrap", "retype", "insert", "null")


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], vocab: Vocabulary, unknowns: bool) -> Any:
    """`base` (plain engine inputs) after a few random mutations, reaching into JSON strings."""
    value = opened(base)
    ops = [m for m in MUTATIONS if unknowns or m != "unknown"]
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        path = draw(st.sampled_from(list(paths(value))))
        op = draw(st.sampled_from(ops))
        node = at(value, path)
        if op == "insert":
            if isinstance(node, dict):
                node[draw(_keys(vocab))] = draw(json_values(vocab, unknowns))
            elif isinstance(node, list):
                node.append(draw(json_values(vocab, unknowns)))
            continue
        if not path:
            continue  # the props object itself always stays an object
        if op == "replace":
            new = draw(json_values(vocab, unknowns))
        elif op == "unknown":
            new = draw(st.sampled_from(SENTINELS))
        elif op == "delete":
            new = DELETE
        elif op == "wrap":
            new = [node]
        elif op == "unwrap":
            items = node.doc if isinstance(node, Encoded) else node
            items = list(items.values()) if isinstance(items, dict) else items
            new = items[0] if isinstance(items, list) and items else node
        elif op == "retype":
            new = retyped(node)
        else:
            new = None
        put(value, path, new)
    return closed(value, unknowns)


def props_for(
    draw: st.DrawFn, vocab: Vocabulary, corpus: Corpus, rtype: str, unknowns: bool
) -> dict[str, Any]:
    """Random props, or the mutated inputs of a rendered resource (of this type if there is one)."""
    same_type = corpus.resources(frozenset({rtype}))
    if not same_type or draw(st.integers(0, 2)) == 0:
        return draw(random_props(vocab, unknowns))
    base = draw(st.sampled_from(same_type))
    return draw(mutated(closed(base.inputs, unknowns), vocab, unknowns))


@st.composite
def resource_args(
    draw: st.DrawFn, rule: Rule, corpus: Corpus, unknowns: bool
) -> ResourceValidationArgs:
    vocab = vocabulary(rule)
    own = sorted(looked_at(rule))
    rtype = draw(
        st.sampled_from(own) if own and draw(st.integers(0, 5)) else st.sampled_from(COMMON_TYPES)
    )
    name = draw(st.sampled_from(["r", "features", "a-b_c.d", "名前", ""]) | st.text(max_size=10))
    record = Recorded(
        urn=_urn(rtype, name), type=rtype, name=name, inputs={}, protect=draw(st.booleans())
    )
    props = props_for(draw, vocab, corpus, rtype, unknowns)
    return resource_args_for(record, props, draw(providers(vocab, unknowns)))


@st.composite
def stack_args(draw: st.DrawFn, rule: Rule, corpus: Corpus, unknowns: bool) -> StackValidationArgs:
    """A rendered stack with the rule's resources mutated, some dropped and random ones added."""
    vocab = vocabulary(rule)
    relevant = looked_at(rule)
    types = sorted({*vocab.types, *COMMON_TYPES})
    records: list[Recorded] = []
    candidates = corpus.stacks_with(relevant) or list(corpus.stacks)
    if candidates and draw(st.integers(0, 3)):
        stack = draw(st.sampled_from(candidates))
        for record in stack:
            fate = draw(st.sampled_from(["keep", "keep", "mutate", "mutate", "drop"]))
            if fate == "drop":
                continue
            inputs = closed(record.inputs, unknowns)
            if fate == "mutate":
                inputs = draw(mutated(inputs, vocab, unknowns))
            records.append(replace(record, inputs=inputs))
    for index in range(draw(st.integers(0, 5))):
        rtype = draw(st.sampled_from(types))
        name = f"gen{index}-{draw(st.text(max_size=6))}"
        earlier = st.sampled_from([r.urn for r in records]) if records else st.nothing()
        linked = bool(records)
        records.append(
            Recorded(
                urn=_urn(rtype, name),
                type=rtype,
                name=name,
                inputs=props_for(draw, vocab, corpus, rtype, unknowns),
                protect=draw(st.booleans()),
                parent=draw(st.none() | earlier) if linked else None,
                dependencies=tuple(draw(st.lists(earlier, max_size=3))) if linked else (),
                property_dependencies=tuple(
                    draw(
                        st.lists(
                            st.tuples(_keys(vocab), st.lists(earlier, max_size=2).map(tuple)),
                            max_size=3,
                        )
                    )
                )
                if linked
                else (),
            )
        )
    order = draw(st.permutations(records)) if records else []
    return stack_args_for(list(order), draw(providers(vocab, unknowns)))


# -- running a rule -----------------------------------------------------------------------------


@dataclass
class Reported:
    message: Any
    urn: Any


def run(rule: Rule, args: Any, environment: str = "prod") -> list[Reported]:
    """Run `rule` as the pack does (through `bind`, with the environment's settings)."""
    reported: list[Reported] = []

    def report(message: Any, urn: Any = None) -> None:
        reported.append(Reported(message, urn))

    bind(rule, Profile(environment).settings(rule))(args, report)
    return reported


def problems_with(rule: Rule, reported: list[Reported], urns: set[str] | None) -> list[str]:
    """What is wrong with the violations a rule reported ([] when they are well formed)."""
    problems = []
    for violation in reported:
        if not isinstance(violation.message, str) or not violation.message.strip():
            problems.append(f"a violation that is not a non-empty string: {violation.message!r}")
        if violation.urn is not None and not isinstance(violation.urn, str):
            problems.append(f"a URN that is not a string: {violation.urn!r}")
        elif urns is not None and violation.urn is not None and violation.urn not in urns:
            problems.append(f"blamed {violation.urn!r}, which is not in the stack")
    return problems


def outcome(rule: Rule, args: Any, unknowns: bool, urns: set[str] | None) -> list[str]:
    """Run the rule; what went wrong ([] when it raised nothing it may not and reported well)."""
    try:
        reported = run(rule, args)
    except ALLOWED_WITH_UNKNOWNS as exc:
        if unknowns:
            return []
        return [f"raised {type(exc).__name__} without any unknown value"]
    except Exception as exc:
        return [f"raised {type(exc).__name__}: {exc}"]
    return problems_with(rule, reported, urns)


PROPERTY_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

RESOURCE_RULES = [r for r in RULES if r.kind == "resource"]
STACK_RULES = [r for r in RULES if r.kind == "stack"]
UNKNOWNS = pytest.mark.parametrize("unknowns", [False, True], ids=["known", "unknown"])


def test_every_rule_is_exercised(corpus: Corpus):
    assert {r.id for r in RESOURCE_RULES + STACK_RULES} == {r.id for r in RULES}
    for rule in RULES:
        assert looked_at(rule), f"{rule.id}: found no resource type to feed it"
    if corpus.problems:
        # Those programs are their own tests' concern; here they only mean fewer shapes to mutate.
        warnings.warn(
            "rule test programs not used as shapes:\n" + "\n".join(corpus.problems), stacklevel=1
        )


def test_every_rule_module_is_in_the_rules_swept_here():
    """`governance.RULES` is assembled by hand in pack.py; a rule module left out of it would be
    neither in the pack nor swept here. Every module of the package that defines rules is in it
    (the waiver policies, which read no resource property, are appended by build_policies)."""
    from governance import build_policies, waiver_rules
    from governance.profiles import profile_for

    package = HERE.parents[1] / "policies" / "governance"
    swept = {r.id for r in RULES}
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        defines_rules = any(
            isinstance(node, ast.AnnAssign | ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id == "RULES"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            )
            for node in tree.body
        )
        if not defines_rules or path.stem in ("pack", "waiver_rules"):
            continue
        module = importlib.import_module(f"governance.{path.stem}")
        missing = {r.id for r in module.RULES} - swept
        assert not missing, f"governance/{path.name} rules not in pack.RULES: {sorted(missing)}"
    built = {p.name for p in build_policies(profile_for({}))}
    assert built == swept | {r.id for r in waiver_rules.RULES}


# Regressions: crashes this suite found, pinned as plain examples.


def test_as_int_refuses_infinities_and_nan():
    from governance.properties import as_int

    assert [as_int(v) for v in ("inf", "-inf", "1e999", "nan", float("inf"))] == [None] * 5
    assert [as_int(v) for v in (365.0, "90", 10**30, True)] == [365, 90, 10**30, None]


def test_tls_only_ignores_a_malformed_condition():
    from governance.storage import denies_insecure_transport

    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*"}
    for condition in ("x", ["Bool"], 1, None):
        assert not denies_insecure_transport({"Statement": [{**deny, "Condition": condition}]})


def test_open_ingress_with_absurd_ports_or_protocol_is_reported_not_raised():
    from governance.network import open_ingress_problem

    def problem(**permission):
        return open_ingress_problem(cidrs=["0.0.0.0/0"], allowed_ports=[80, 443], **permission)

    assert problem(protocol="tcp", from_port=0, to_port=1e20) == (
        "tcp port 0-100000000000000000000 from 0.0.0.0/0"
    )
    assert problem(protocol=float("inf"), from_port=22, to_port=22) == "protocol ? from 0.0.0.0/0"
    assert problem(protocol="tcp", from_port="inf", to_port=22) == (
        "tcp (unspecified ports) from 0.0.0.0/0"
    )
    assert problem(protocol=6.0, from_port=443, to_port=443) == ""


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
@UNKNOWNS
def test_single_faults_at_every_property(rule: Rule, unknowns: bool, corpus: Corpus):
    """Every one-step fault at every property of every rendered resource the rule looks at."""
    relevant = looked_at(rule)
    failures: list[str] = []
    if rule.kind == "resource":
        records = corpus.resources(relevant, Corpus.PER_TYPE)
        for record in records[:: max(1, len(records) // Corpus.MAX_SWEPT)]:
            for where, inputs in single_faults(record.inputs, unknowns):
                for problem in outcome(rule, resource_args_for(record, inputs), unknowns, None):
                    failures.append(f"{record.type} '{record.name}' {where}: {problem}")
    else:
        swept: set[str] = set()
        swept_types: list[str] = []
        for stack in corpus.stacks_with(relevant):
            args = stack_args_for([replace(r, inputs=closed(r.inputs, unknowns)) for r in stack])
            urns = {r.urn for r in args.resources}
            for record, target in zip(stack, args.resources, strict=True):
                shape = json.dumps([record.type, record.inputs], sort_keys=True, default=str)
                if shape in swept or swept_types.count(record.type) >= Corpus.PER_TYPE:
                    continue  # the same resource in another stack (dev and prod alike)
                swept.add(shape)
                swept_types.append(record.type)
                original = target.props
                for where, inputs in single_faults(record.inputs, unknowns):
                    target.props = unknown_checking_proxy(inputs)
                    for problem in outcome(rule, args, unknowns, urns):
                        failures.append(f"{record.type} '{record.name}' {where}: {problem}")
                target.props = original
    assert not failures, f"{rule.id}: {len(failures)} failing fault(s), e.g.\n" + "\n".join(
        sorted(set(failures))[:15]
    )


@pytest.mark.parametrize("rule", RESOURCE_RULES, ids=lambda r: r.id)
@UNKNOWNS
@PROPERTY_SETTINGS
@given(data=st.data(), environment=st.sampled_from(ENVIRONMENTS))
def test_resource_rule_on_random_properties(rule, unknowns, corpus, data, environment):
    args = data.draw(resource_args(rule, corpus, unknowns), label="args")
    try:
        reported = run(rule, args, environment)
    except ALLOWED_WITH_UNKNOWNS:
        if unknowns:
            return
        raise
    assert not problems_with(rule, reported, None)


@pytest.mark.parametrize("rule", STACK_RULES, ids=lambda r: r.id)
@UNKNOWNS
@settings(PROPERTY_SETTINGS, max_examples=12)
@given(data=st.data(), environment=st.sampled_from(ENVIRONMENTS))
def test_stack_rule_on_random_stacks(rule, unknowns, corpus, data, environment):
    args = data.draw(stack_args(rule, corpus, unknowns), label="args")
    try:
        reported = run(rule, args, environment)
    except ALLOWED_WITH_UNKNOWNS:
        if unknowns:
            return
        raise
    assert not problems_with(rule, reported, {r.urn for r in args.resources})
