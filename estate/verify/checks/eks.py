"""EKS: the cluster (`components/cluster.py`) and the BU's managed GPU node groups
(`components/gpu_pools.py`).

The expectations come from the components' own constants and pure functions (log types, the
endpoint rule, taints, labels, AMI types, name prefixes), so verify and the program cannot drift
apart. Karpenter pools have no AWS-side node group: they are Kubernetes objects, which the node
conformance suite (tests/infra) checks on the nodes they launch.
"""

from __future__ import annotations

from typing import Any

from components.cluster import CONTROL_PLANE_LOG_TYPES, endpoint_access
from components.gpu_pools import (
    AMI_TYPES,
    CAPACITY_TYPES,
    LABEL_BU,
    LABEL_POOL,
    managed_name_prefix,
    node_taints,
)
from estate.verify.checks.base import (
    Context,
    MissingResourceError,
    Outcome,
    Problem,
    Run,
    Target,
    aws_call,
    policy,
    short_key,
)

CLUSTER_EXISTS = policy(
    "verify-eks-cluster-exists",
    "high",
    "The EKS cluster the stack's outputs name exists and is not failed.",
    "Re-run `pulumi up` for the platform stack.",
)
ENDPOINT = policy(
    "verify-eks-endpoint-access",
    "critical",
    "The API endpoint is private; a public endpoint is allowed only for listed CIDRs, never "
    "0.0.0.0/0.",
    "Set the cluster's public access CIDRs to the networks that need it, or turn public access off.",
)
LOGGING = policy(
    "verify-eks-logging",
    "medium",
    f"All five control-plane log types are enabled ({', '.join(CONTROL_PLANE_LOG_TYPES)}).",
    "Enable the missing log types (`pulumi up` reapplies them).",
)
SECRETS = policy(
    "verify-eks-secrets-encryption",
    "high",
    "Kubernetes secrets are envelope-encrypted with the stack's customer KMS key.",
    "Associate the encryption config with the key (`aws eks associate-encryption-config`).",
)
VERSION = policy(
    "verify-eks-version",
    "medium",
    "The control plane runs the Kubernetes version the stack declares (clusterVersion).",
    "Upgrade through the stack (`cluster.version`), not in the console, so code and cluster agree.",
)
NODEGROUP_EXISTS = policy(
    "verify-eks-nodegroup-exists",
    "high",
    "Each managed GPU pool in the outputs (gpuPools) has its EKS managed node group.",
    "Re-run `pulumi up` for the BU stack.",
)
NODEGROUP_SCALING = policy(
    "verify-eks-nodegroup-scaling",
    "high",
    "The node group's min and max size equal the pool's minSize and maxSize (the GPU budget).",
    "Scale through the stack's gpuPools config; the console's change is overwritten on the next "
    "`pulumi up`.",
)
NODEGROUP_INSTANCES = policy(
    "verify-eks-nodegroup-instances",
    "medium",
    "The node group launches only the pool's instance types, with the pool's capacity type.",
    "Change instance types through the stack's gpuPools config.",
)
NODEGROUP_AMI = policy(
    "verify-eks-nodegroup-ami",
    "high",
    f"The node group runs an NVIDIA AMI type ({', '.join(AMI_TYPES)}).",
    "Set the pool's amiType to an NVIDIA AMI type.",
)
NODEGROUP_TAINTS = policy(
    "verify-eks-nodegroup-taints",
    "high",
    "GPU nodes carry the nvidia.com/gpu and ai-estate/bu=<bu> NoSchedule taints, so only GPU "
    "workloads of their own BU land on them.",
    "Restore the taints (`pulumi up` reapplies them).",
)
NODEGROUP_LABELS = policy(
    "verify-eks-nodegroup-labels",
    "medium",
    "The node group labels its nodes with the BU and pool (ai-estate/bu, ai-estate/pool).",
    "Restore the labels (`pulumi up` reapplies them).",
)
NODEGROUP_REMOTE_ACCESS = policy(
    "verify-eks-nodegroup-remote-access",
    "high",
    "No SSH remote access on GPU nodes (Session Manager is the way in).",
    "Replace the node group without remote access (`pulumi up` does).",
)

_EKS_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}


def describe_cluster(ctx: Context, name: str) -> dict[str, Any]:
    return ctx.cached(
        ("eks-cluster", name),
        lambda: aws_call(ctx.client("eks"), "describe_cluster", name=name)["cluster"],
    )


def check_cluster(ctx: Context, target: Target) -> list[Outcome]:
    name = target.name
    run = Run(target, arn=target.arn or ctx.arn("eks", f"cluster/{name}"))
    cluster = run.exists(CLUSTER_EXISTS, lambda: _live_cluster(ctx, name))
    run.check(ENDPOINT, lambda: _endpoint(cluster), "private endpoint")
    run.check(LOGGING, lambda: _logging(cluster), "all five log types")
    run.check(
        SECRETS, lambda: _secrets(ctx, cluster), f"secrets encrypted with {short_key(ctx.key_arn)}"
    )
    if ctx.cluster_version:
        expected = ctx.cluster_version
        run.check(
            VERSION,
            lambda: (
                None
                if cluster.get("version") == expected
                else f"runs Kubernetes {cluster.get('version')}, but the stack declares {expected}"
            ),
            f"Kubernetes {expected}",
        )
    return run.outcomes


def _live_cluster(ctx: Context, name: str) -> dict[str, Any] | None:
    cluster = describe_cluster(ctx, name)
    if cluster.get("status") == "FAILED":
        return None
    return cluster


def _endpoint(cluster: dict[str, Any]) -> Problem:
    vpc = cluster.get("resourcesVpcConfig", {})
    problems = []
    if not vpc.get("endpointPrivateAccess"):
        problems.append("private endpoint access is off")
    if vpc.get("endpointPublicAccess"):
        cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]
        try:
            endpoint_access(list(cidrs))
        except ValueError:
            open_to = ", ".join(c for c in cidrs if c.endswith("/0"))
            problems.append(f"the public endpoint is open to {open_to}")
    return "; ".join(problems) or None


def _logging(cluster: dict[str, Any]) -> Problem:
    enabled: set[str] = set()
    for entry in cluster.get("logging", {}).get("clusterLogging", []):
        if entry.get("enabled"):
            enabled.update(entry.get("types", []))
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
    if missing:
        return f"control-plane log types {', '.join(missing)} are not enabled"
    return None


def _secrets(ctx: Context, cluster: dict[str, Any]) -> Problem:
    for config in cluster.get("encryptionConfig", []) or []:
        if "secrets" not in config.get("resources", []):
            continue
        key = config.get("provider", {}).get("keyArn")
        if ctx.key_arn and not ctx.same_key(key, ctx.key_arn):
            return (
                f"secrets are encrypted with key {short_key(key)}, not the stack's key "
                f"{short_key(ctx.key_arn)}"
            )
        return None
    return "Kubernetes secrets are not envelope-encrypted with a KMS key"


# ---------------------------------------------------------------------------------------------
# Node groups


def _node_groups(ctx: Context, cluster: str) -> list[dict[str, Any]]:
    """Every node group of the cluster, described (once per cluster across threads)."""

    def load() -> list[dict[str, Any]]:
        eks = ctx.client("eks")
        names: list[str] = []
        kwargs: dict[str, Any] = {"clusterName": cluster}
        while True:
            page = aws_call(eks, "list_nodegroups", **kwargs)
            names += page.get("nodegroups", [])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return [
            aws_call(eks, "describe_nodegroup", clusterName=cluster, nodegroupName=n)["nodegroup"]
            for n in names
        ]

    return ctx.cached(("eks-nodegroups", cluster), load)


def pool_of(
    group: dict[str, Any], business_unit: str, environment: str, pools: list[str]
) -> str | None:
    """Which of the BU's pools a node group belongs to: by its labels, else its name prefix.

    The name is `<bu>-<env>-<pool>-<suffix>`; with pools `serve` and `serve-a10g` both prefixes
    match `fraud-prod-serve-a10g-...`, so the longest one wins.
    """
    labels = group.get("labels") or {}
    if labels.get(LABEL_BU) == business_unit and labels.get(LABEL_POOL) in pools:
        return labels[LABEL_POOL]
    name = group.get("nodegroupName", "")
    matches = [
        p for p in pools if name.startswith(managed_name_prefix(business_unit, environment, p))
    ]
    return max(matches, key=len) if matches else None


def check_node_group_pool(ctx: Context, target: Target) -> list[Outcome]:
    pool_name, cluster = target.name, target.role
    pool = ctx.gpu_pools[pool_name]
    managed = [n for n, p in ctx.gpu_pools.items() if p.get("provisioner") == "managed"]
    lookup = Run(target, resource=f"{pool_name} (pool)", arn=ctx.arn("eks", f"cluster/{cluster}"))

    def find() -> list[dict[str, Any]] | None:
        try:
            describe_cluster(ctx, cluster)
        except MissingResourceError:
            return None
        groups = [
            g
            for g in _node_groups(ctx, cluster)
            if pool_of(g, ctx.business_unit, ctx.environment, managed) == pool_name
        ]
        return groups or None

    groups = lookup.exists(
        NODEGROUP_EXISTS,
        find,
        f"has no managed node group in cluster {cluster}, but the outputs declare the pool "
        f"({target.declared_by})",
    )
    if groups is None:
        return lookup.outcomes
    outcomes = list(lookup.outcomes)
    for group in groups:
        outcomes += _check_node_group(target, group, pool, ctx.business_unit, pool_name)
    return outcomes


def _check_node_group(
    target: Target, group: dict[str, Any], pool: dict[str, Any], business_unit: str, pool_name: str
) -> list[Outcome]:
    run = Run(target, resource=group["nodegroupName"], arn=group.get("nodegroupArn", ""))
    ami = group.get("amiType")
    run.check(NODEGROUP_SCALING, lambda: _scaling(group, pool), "scaling as the pool")
    run.check(NODEGROUP_INSTANCES, lambda: _instances(group, pool), "pool instance types")
    run.check(
        NODEGROUP_AMI,
        lambda: None if ami in AMI_TYPES else f"AMI type is {ami}, not an NVIDIA AMI type",
        str(ami),
    )
    run.check(NODEGROUP_TAINTS, lambda: _taints(group, business_unit), "GPU and BU taints")
    run.check(
        NODEGROUP_LABELS, lambda: _labels(group, business_unit, pool_name), "BU and pool labels"
    )
    run.check(
        NODEGROUP_REMOTE_ACCESS,
        lambda: "allows SSH remote access to its nodes" if _remote_access(group) else None,
        "no remote access",
    )
    return run.outcomes


def _scaling(group: dict[str, Any], pool: dict[str, Any]) -> Problem:
    scaling = group.get("scalingConfig", {})
    problems = []
    for field, key in (("minSize", "minSize"), ("maxSize", "maxSize")):
        if scaling.get(field) != pool.get(key):
            problems.append(f"{field} is {scaling.get(field)}, the pool says {pool.get(key)}")
    return "; ".join(problems) or None


def _instances(group: dict[str, Any], pool: dict[str, Any]) -> Problem:
    problems = []
    extra = sorted(set(group.get("instanceTypes") or []) - set(pool.get("instanceTypes") or []))
    if extra:
        problems.append(f"launches {', '.join(extra)}, which the pool does not list")
    expected_capacity = CAPACITY_TYPES.get(str(pool.get("capacityType")))
    if expected_capacity and group.get("capacityType") not in (None, expected_capacity):
        problems.append(
            f"capacity type is {group.get('capacityType')}, the pool says {expected_capacity}"
        )
    return "; ".join(problems) or None


def _taints(group: dict[str, Any], business_unit: str) -> Problem:
    live = {(t.get("key"), t.get("value"), t.get("effect")) for t in group.get("taints") or []}
    missing = [
        f"{t.key}={t.value}:{t.effect}"
        for t in node_taints(business_unit)
        if (t.key, t.value, _EKS_EFFECTS.get(t.effect, t.effect)) not in live
    ]
    if missing:
        return f"taint {', '.join(missing)} is missing"
    return None


def _labels(group: dict[str, Any], business_unit: str, pool: str) -> Problem:
    labels = group.get("labels") or {}
    wrong = [
        f"{key}={value}"
        for key, value in ((LABEL_BU, business_unit), (LABEL_POOL, pool))
        if labels.get(key) != value
    ]
    return f"label {', '.join(wrong)} is missing" if wrong else None


def _remote_access(group: dict[str, Any]) -> bool:
    remote = group.get("remoteAccess") or {}
    return bool(remote.get("ec2SshKey") or remote.get("sourceSecurityGroups"))
