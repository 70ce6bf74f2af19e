"""BU tenancy on the shared EKS cluster: one namespace per BU, fenced in on every side.

- Namespace `<bu>`: one cluster per environment, so the BU name alone is unique in it, and the
  same manifests (`namespace: fraud`) work in dev and prod. It enforces the `restricted` Pod
  Security Standard (warn and audit too, so violations are visible before they are blocked).
- ResourceQuota: the BU's GPU, CPU, memory and pod budget. GPUs are capped with
  `requests.nvidia.com/gpu` only: Kubernetes allows only `requests.` quota items for extended
  resources, which cannot be overcommitted (requests always equal limits).
- LimitRange: container defaults, so pods that omit requests/limits are still admitted under a
  quota that sets them, and are sized sanely.
- NetworkPolicy: deny all ingress and egress by default, then allow exactly what BU workloads
  need: DNS to kube-dns, the EKS Pod Identity agent (without it no pod gets AWS credentials),
  traffic within the namespace, and HTTPS to AWS: the S3 and DynamoDB gateway endpoints (traffic
  to them is addressed to the services' public CIDRs, the regional AWS-managed prefix lists) and
  the interface endpoints (their network interfaces sit in the VPC's private subnets). Nothing
  reaches another BU's namespace: every namespace refuses ingress from outside itself.
- ValidatingAdmissionPolicy (+ Binding, scoped to the namespace): a pod that requests
  `nvidia.com/gpu` must select exactly one of the BU's GPU pools by the `ai-estate/pool` node
  label (nodeSelector, or one required node-affinity term). A GPU pod that fits both a managed
  pool and a Karpenter pool would be provisioned for by the cluster-autoscaler and Karpenter at
  once, each launching a node; naming the pool makes exactly one of them responsible.
- RBAC: one Role per persona, bound to the group `ai-estate:<bu>:<persona>`; EKS access entries
  map each persona's IAM role to that group. Auditors also get the EKS view policy, scoped to
  the namespace.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import labels
from .gpu_pools import gpu_units
from .k8s_validation import namespace_problem, quantity_problem
from .kueue import gpu_ceiling
from .options import child

PERSONAS = ("data-scientist", "ml-engineer", "model-approver", "auditor")
RBAC_GROUP = "rbac.authorization.k8s.io"
POD_IDENTITY_AGENT_CIDRS = ("169.254.170.23/32",)
"""Where the EKS Pod Identity agent listens on every node (IPv4 link-local, port 80)."""
GATEWAY_ENDPOINT_SERVICES = ("s3", "dynamodb")
"""Services the platform VPC reaches through gateway endpoints (components/network.py). Traffic
to them leaves the pod addressed to the service's public IPs, which AWS publishes as the
managed prefix list `com.amazonaws.<region>.<service>`; the route table sends it to the
endpoint."""
HTTPS = 443

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

Metadata = Callable[[str], k8s.meta.v1.ObjectMetaArgs]
"""Builds the metadata of a namespaced object from its name."""

READ = ("get", "list", "watch")
WRITE = ("get", "list", "watch", "create", "update", "patch", "delete")


class BuTenantSettings(TypedDict):
    """The namespace settings a stack file chooses (`ai-estate:tenant`); `BuTenantArgs` adds the
    wiring the BU estate supplies."""

    gpu_quota: int
    """Most physical GPUs the BU's pods may hold at once. The quota item
    (`requests.nvidia.com/gpu`) counts what nodes advertise: `gpu_quota` x `gpu_slices_per_gpu`."""
    cpu_quota: str
    """Total CPU requests of the namespace, e.g. `"64"` (limits default to the same)."""
    memory_quota: str
    """Total memory requests of the namespace, e.g. `"256Gi"` (limits default to the same)."""
    default_container_limits: dict[str, str]
    """LimitRange default limits, e.g. `{"cpu": "2", "memory": "4Gi"}`."""
    gpu_borrowing_limit: NotRequired[int]
    """Physical GPUs the BU may borrow beyond `gpu_quota` through its Kueue cohort (default 0):
    the namespace quota holds `gpu_quota` + this (`kueue.gpu_ceiling`)."""


class BuTenantArgs(BuTenantSettings):
    """Inputs of `BuTenant`."""

    business_unit: str
    """The BU, a lower-case DNS label: it names the namespace."""
    environment: str
    cpu_limit_quota: NotRequired[str]
    """Total CPU limits, when the BU may burst above its requests (default: `cpu_quota`)."""
    memory_limit_quota: NotRequired[str]
    """Total memory limits (default: `memory_quota`)."""
    pod_quota: NotRequired[int]
    """Most non-terminal pods in the namespace (default 200): each pod takes a VPC address."""
    default_container_requests: NotRequired[dict[str, str]]
    """LimitRange default requests (default: the default limits, as Kubernetes would)."""
    persona_role_arns: dict[str, pulumi.Input[str]]
    """Persona (`data-scientist`, `ml-engineer`, `model-approver`, `auditor`) -> IAM role ARN.
    May be empty until the persona roles exist; a persona without a role gets RBAC but no
    access entry."""
    cluster_name: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    """The cluster VPC's IPv4 block (the platform's `vpcCidr` output): the AWS interface
    endpoints' network interfaces are in it, so BU pods may reach it on 443."""
    gpu_slices_per_gpu: NotRequired[pulumi.Input[int | None]]
    """How many `nvidia.com/gpu` each physical GPU registers as: the platform's time-slicing
    replicas (its `timeSlicingReplicas` output); None or 1 without time-slicing."""
    gpu_pool_names: NotRequired[list[str]]
    """The BU's GPU pools (their `ai-estate/pool` node label values): a GPU pod in the namespace
    must select exactly one of them (see `gpu_pool_selection_validations`)."""
    k8s_provider: k8s.Provider
    tags: dict[str, str]


@dataclass(frozen=True)
class Rule:
    """One RBAC policy rule."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]


def _prefix_list_name(parts: list[str], service: str) -> str:
    """`com.amazonaws.<region>.<service>`: an AWS-managed prefix list's name."""
    return f"{parts[0]}.{parts[1]}.{service}"


def persona_group(business_unit: str, persona: str) -> str:
    """The Kubernetes group a persona's access entry maps to (`ai-estate:fraud:auditor`)."""
    return f"ai-estate:{business_unit}:{persona}"


def persona_rules(persona: str, environment: str) -> list[Rule]:
    """What each persona may do in its BU's namespace.

    No persona reads Secrets: workloads fetch secrets from AWS through Pod Identity, so a Secret
    in the namespace is infrastructure's, and `get secrets` would hand a person credentials.

    - data-scientist: runs experiments: pods, jobs and cron jobs, config maps, volume claims;
      reads logs and events. `pods/exec` and `pods/portforward` only outside prod: in prod they
      would let a person act with a workload's AWS identity and reach its data.
    - ml-engineer: ships models: deployments, stateful sets, services, config maps, jobs,
      autoscalers and disruption budgets; reads pods, logs, events and replica sets.
    - model-approver: reviews what runs: read-only on workloads, services and config maps.
    - auditor: read-only on every kind above plus quotas, limit ranges, network policies, RBAC
      and events (no logs: they may contain data the auditor is not cleared for).
    """
    if persona == "data-scientist":
        rules = [
            Rule(("",), ("pods",), ("get", "list", "watch", "create", "delete")),
            Rule(("",), ("pods/log",), READ),
            Rule(("",), ("configmaps", "persistentvolumeclaims"), WRITE),
            Rule(("",), ("services", "events"), READ),
            Rule(("batch",), ("jobs", "cronjobs"), WRITE),
        ]
        if environment != "prod":
            rules.append(Rule(("",), ("pods/exec", "pods/portforward"), ("create", "get")))
        return rules
    if persona == "ml-engineer":
        return [
            Rule(("apps",), ("deployments", "statefulsets"), WRITE),
            Rule(("apps",), ("replicasets",), READ),
            Rule(("",), ("services", "configmaps"), WRITE),
            Rule(("",), ("pods", "pods/log", "events"), READ),
            Rule(("batch",), ("jobs", "cronjobs"), WRITE),
            Rule(("autoscaling",), ("horizontalpodautoscalers",), WRITE),
            Rule(("policy",), ("poddisruptionbudgets",), WRITE),
        ]
    if persona == "model-approver":
        return [
            Rule(("apps",), ("deployments", "statefulsets", "replicasets"), READ),
            Rule(("",), ("pods", "services", "configmaps", "events"), READ),
            Rule(("batch",), ("jobs", "cronjobs"), READ),
        ]
    if persona == "auditor":
        return [
            Rule(
                ("",),
                (
                    "pods",
                    "services",
                    "endpoints",
                    "configmaps",
                    "persistentvolumeclaims",
                    "serviceaccounts",
                    "events",
                    "resourcequotas",
                    "limitranges",
                ),
                READ,
            ),
            Rule(("apps",), ("deployments", "statefulsets", "replicasets", "daemonsets"), READ),
            Rule(("batch",), ("jobs", "cronjobs"), READ),
            Rule(("autoscaling",), ("horizontalpodautoscalers",), READ),
            Rule(("policy",), ("poddisruptionbudgets",), READ),
            Rule(("networking.k8s.io",), ("networkpolicies",), READ),
            Rule((RBAC_GROUP,), ("roles", "rolebindings"), READ),
            Rule(("events.k8s.io",), ("events",), READ),
        ]
    raise ValueError(f"unknown persona {persona!r}; personas are {', '.join(PERSONAS)}")


def quota_hard(args: BuTenantArgs) -> dict[str, pulumi.Input[str]]:
    """The namespace ResourceQuota's `hard` map (the GPU item in the cluster's GPU unit)."""
    ceiling = gpu_ceiling(args["gpu_quota"], args.get("gpu_borrowing_limit", 0))
    gpus = gpu_units(ceiling, args.get("gpu_slices_per_gpu"))
    return {
        # Extended resources take `requests.` quota only (their requests always equal limits).
        f"requests.{labels.NVIDIA_GPU}": gpus.apply(str)
        if isinstance(gpus, pulumi.Output)
        else str(gpus),
        "requests.cpu": args["cpu_quota"],
        "requests.memory": args["memory_quota"],
        "limits.cpu": args.get("cpu_limit_quota", args["cpu_quota"]),
        "limits.memory": args.get("memory_limit_quota", args["memory_quota"]),
        "pods": str(args.get("pod_quota", 200)),
    }


GPU_POOL_VARIABLES: tuple[tuple[str, str], ...] = (
    (
        "containers",
        "object.spec.containers + "
        "(has(object.spec.initContainers) ? object.spec.initContainers : [])",
    ),
    (
        "wantsGpu",
        "variables.containers.exists(c, has(c.resources) && ("
        f"(has(c.resources.requests) && '{labels.NVIDIA_GPU}' in c.resources.requests) || "
        f"(has(c.resources.limits) && '{labels.NVIDIA_GPU}' in c.resources.limits)))",
    ),
    (
        "selectorPools",
        f"has(object.spec.nodeSelector) && '{labels.POOL}' in object.spec.nodeSelector ? "
        f"[object.spec.nodeSelector['{labels.POOL}']] : []",
    ),
    (
        "affinityTerms",
        "has(object.spec.affinity) && has(object.spec.affinity.nodeAffinity) && "
        "has(object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution) ? "
        "object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms : []",
    ),
    (
        # Terms are ORed: more than one could land the pod in two pools, so only a single term
        # counts, and in it an `In` on the pool label with one value.
        "affinityPools",
        "size(variables.affinityTerms) == 1 && has(variables.affinityTerms[0].matchExpressions) ? "
        "variables.affinityTerms[0].matchExpressions.filter(e, "
        f"e.key == '{labels.POOL}' && e.operator == 'In' && size(e.values) == 1)"
        ".map(e, e.values[0]) : []",
    ),
    ("pools", "variables.selectorPools + variables.affinityPools"),
)
"""CEL variables of the GPU pool-selection admission policy, in evaluation order."""


def gpu_pool_selection_validations(pool_names: list[str]) -> list[tuple[str, str]]:
    """(CEL expression, message) pairs: a GPU pod selects exactly one of `pool_names`."""
    allowed = "[" + ", ".join(f"'{p}'" for p in sorted(pool_names)) + "]"
    return [
        (
            "!variables.wantsGpu || (size(variables.pools) >= 1 && "
            "variables.pools.all(p, p == variables.pools[0]) && "
            f"variables.pools[0] in {allowed})",
            f"a pod requesting {labels.NVIDIA_GPU} must select exactly one GPU pool of this BU "
            f"with nodeSelector {{'{labels.POOL}': <pool>}} (or one required node-affinity term "
            f"'{labels.POOL} In [<pool>]'); pools: {', '.join(sorted(pool_names)) or 'none'}",
        )
    ]


def validate_tenant(args: BuTenantArgs) -> None:
    """Raise ValueError (one sentence naming the BU) for args that cannot become a tenant."""
    bu = args["business_unit"]
    where = f"tenant of BU {bu!r}"
    if not _DNS_LABEL.match(bu) or len(bu) > 63:
        raise ValueError(
            f"{where}: the BU name must be a lower-case DNS label (it names the namespace)"
        )
    if namespace_problem(bu):
        # The same rule the config schema applies to `businessUnit` (k8s_validation).
        raise ValueError(f"{where}: {bu!r} is a system namespace and cannot be a BU")
    if args["gpu_quota"] < 0:
        raise ValueError(f"{where}: gpu_quota must not be negative (got {args['gpu_quota']})")
    if args.get("pod_quota", 200) < 1:
        raise ValueError(f"{where}: pod_quota must be at least 1")
    quantities = {
        "cpu_quota": args["cpu_quota"],
        "memory_quota": args["memory_quota"],
        "cpu_limit_quota": args.get("cpu_limit_quota", args["cpu_quota"]),
        "memory_limit_quota": args.get("memory_limit_quota", args["memory_quota"]),
        **{f"default_container_limits.{k}": v for k, v in args["default_container_limits"].items()},
        **{
            f"default_container_requests.{k}": v
            for k, v in (args.get("default_container_requests") or {}).items()
        },
    }
    for key, value in quantities.items():
        if quantity_problem(value):
            raise ValueError(
                f"{where}: {key} must be a Kubernetes quantity like '8' or '16Gi' (got {value!r})"
            )
    for key in (*args["default_container_limits"], *(args.get("default_container_requests") or {})):
        if key not in ("cpu", "memory", "ephemeral-storage"):
            raise ValueError(
                f"{where}: container defaults may set cpu, memory and ephemeral-storage, not "
                f"{key!r} (a default GPU would hand every pod a GPU)"
            )
    unknown = sorted(set(args["persona_role_arns"]) - set(PERSONAS))
    if unknown:
        raise ValueError(f"{where}: unknown personas {unknown}; personas are {', '.join(PERSONAS)}")


class BuTenant(pulumi.ComponentResource):
    """One BU's namespace on the shared cluster and who may do what in it (see module docstring)."""

    namespace: pulumi.Output[str]
    """The BU's namespace name."""

    def __init__(
        self, name: str, args: BuTenantArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ai-estate:tenancy:BuTenant", name, None, opts)
        validate_tenant(args)
        bu, env = args["business_unit"], args["environment"]
        k8s_opts = child(self, provider=args["k8s_provider"])
        common_labels = {
            labels.BU: bu,
            labels.ENVIRONMENT: env,
            labels.MANAGED_BY: "pulumi",
        }

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=bu,
                labels={
                    **common_labels,
                    **{
                        labels.pod_security(mode): "restricted"
                        for mode in labels.POD_SECURITY_MODES
                    },
                },
            ),
            opts=k8s_opts,
        )
        # Every namespaced object takes the name from the Namespace's output, so it depends on it.
        ns = namespace.metadata.apply(lambda m: m.name)

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ns, labels=common_labels)

        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=meta("compute"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota_hard(args)),
            opts=k8s_opts,
        )
        limits = dict(args["default_container_limits"])
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("container-defaults"),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default=limits,
                        default_request=dict(args.get("default_container_requests") or limits),
                    )
                ]
            ),
            opts=k8s_opts,
        )
        self._network_policies(name, args, meta, k8s_opts)
        self._gpu_pool_admission(
            name, bu, list(args.get("gpu_pool_names") or []), ns, common_labels, k8s_opts
        )
        self._rbac(name, bu, env, meta, k8s_opts)
        self._access_entries(name, bu, ns, args)

        self.namespace = ns
        self.register_outputs({"namespace": self.namespace})

    def _network_policies(
        self, name: str, args: BuTenantArgs, meta: Metadata, k8s_opts: pulumi.ResourceOptions
    ) -> None:
        every_pod = k8s.meta.v1.LabelSelectorArgs(match_labels={})
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        # `com.amazonaws` in the commercial partition, `cn.com.amazonaws` in China.
        dns_prefix = aws.get_partition_output(opts=invoke).reverse_dns_prefix
        # Looked up at every preview and update of the BU stack, so a CIDR AWS adds to a list
        # reaches the policy with the next `pulumi up` (a stale list would block the new range).
        prefix_lists = [
            aws.ec2.get_managed_prefix_list_output(
                name=pulumi.Output.all(dns_prefix, region).apply(
                    functools.partial(_prefix_list_name, service=service)
                ),
                opts=invoke,
            )
            for service in GATEWAY_ENDPOINT_SERVICES
        ]
        service_cidrs = pulumi.Output.all(*[pl.entries for pl in prefix_lists]).apply(
            _prefix_list_cidrs
        )
        vpc_cidr = pulumi.Output.from_input(args["vpc_cidr"])

        def https_to(
            cidrs: pulumi.Output[list[str]],
        ) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgs]:
            return [
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=cidrs.apply(
                        lambda cs: [
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                ip_block=k8s.networking.v1.IPBlockArgs(cidr=c)
                            )
                            for c in cs
                        ]
                    ),
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=HTTPS)],
                )
            ]

        policies = {
            # No rules: everything not allowed by another policy is denied, both ways.
            "default-deny": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Ingress", "Egress"]
            ),
            "allow-dns": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                # Namespaces carry this label automatically (Kubernetes >= 1.22).
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={labels.NAMESPACE_NAME: "kube-system"}
                                ),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={labels.K8S_APP: "kube-dns"}
                                ),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol=p, port=53)
                            for p in ("UDP", "TCP")
                        ],
                    )
                ],
            ),
            # Pods get AWS credentials from the Pod Identity agent on their node; blocking it
            # would silently break every AWS call the BU's workloads make.
            "allow-pod-identity": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr)
                            )
                            for cidr in POD_IDENTITY_AGENT_CIDRS
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=80)],
                    )
                ],
            ),
            "allow-same-namespace": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Ingress", "Egress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=every_pod)]
                    )
                ],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=every_pod)]
                    )
                ],
            ),
            # S3 and DynamoDB through the gateway endpoints: HTTPS to the services' regional
            # prefix-list CIDRs. vpc-cni enforces NetworkPolicy on IP addresses, and these are
            # addresses outside the cluster, which is what `ipBlock` is for.
            "allow-aws-gateway-endpoints": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Egress"], egress=https_to(service_cidrs)
            ),
            # Interface endpoints (STS, ECR, SageMaker, Logs, ...): their network interfaces take
            # addresses in the VPC's private subnets, so HTTPS to the VPC block. vpc-cni matches
            # `ipBlock` against pod addresses too, and pods take addresses from the same subnets:
            # this rule alone would let a pod open 443 to another BU's pod. Every BU namespace
            # refuses ingress from outside itself (`default-deny` + `allow-same-namespace`), and
            # that is the hop that keeps BUs apart.
            "allow-aws-interface-endpoints": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Egress"],
                egress=https_to(vpc_cidr.apply(lambda c: [c])),
            ),
        }
        for policy_name, spec in policies.items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol-{policy_name}",
                metadata=meta(policy_name),
                spec=spec,
                opts=k8s_opts,
            )

    def _gpu_pool_admission(
        self,
        name: str,
        bu: str,
        pool_names: list[str],
        namespace: pulumi.Output[str],
        common_labels: dict[str, str],
        k8s_opts: pulumi.ResourceOptions,
    ) -> None:
        adm = k8s.admissionregistration.v1
        # Cluster-scoped objects: the BU prefix keeps two BUs' policies apart.
        object_name = f"ai-estate-{bu}-gpu-pool-selection"
        policy = adm.ValidatingAdmissionPolicy(
            f"{name}-gpu-pool-policy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, labels=common_labels),
            spec=adm.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=adm.MatchResourcesArgs(
                    resource_rules=[
                        adm.NamedRuleWithOperationsArgs(
                            api_groups=[""],
                            api_versions=["v1"],
                            operations=["CREATE", "UPDATE"],
                            resources=["pods"],
                        )
                    ]
                ),
                variables=[adm.VariableArgs(name=v, expression=e) for v, e in GPU_POOL_VARIABLES],
                validations=[
                    adm.ValidationArgs(expression=e, message=m, reason="Forbidden")
                    for e, m in gpu_pool_selection_validations(pool_names)
                ],
            ),
            opts=k8s_opts,
        )
        adm.ValidatingAdmissionPolicyBinding(
            f"{name}-gpu-pool-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, labels=common_labels),
            spec=adm.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=object_name,
                validation_actions=["Deny"],
                match_resources=adm.MatchResourcesArgs(
                    # Only this BU's namespace; the name comes from the Namespace (after it).
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels={labels.NAMESPACE_NAME: namespace}
                    )
                ),
            ),
            opts=child(self, provider=k8s_opts.provider, depends_on=[policy]),
        )

    def _rbac(
        self, name: str, bu: str, env: str, meta: Metadata, k8s_opts: pulumi.ResourceOptions
    ) -> None:
        for persona in PERSONAS:
            role_name = f"ai-estate-{persona}"
            role = k8s.rbac.v1.Role(
                f"{name}-role-{persona}",
                metadata=meta(role_name),
                rules=[
                    k8s.rbac.v1.PolicyRuleArgs(
                        api_groups=list(r.api_groups),
                        resources=list(r.resources),
                        verbs=list(r.verbs),
                    )
                    for r in persona_rules(persona, env)
                ],
                opts=k8s_opts,
            )
            k8s.rbac.v1.RoleBinding(
                f"{name}-binding-{persona}",
                metadata=meta(role_name),
                role_ref=k8s.rbac.v1.RoleRefArgs(api_group=RBAC_GROUP, kind="Role", name=role_name),
                subjects=[
                    k8s.rbac.v1.SubjectArgs(
                        kind="Group", name=persona_group(bu, persona), api_group=RBAC_GROUP
                    )
                ],
                opts=child(self, provider=k8s_opts.provider, depends_on=[role]),
            )

    def _access_entries(
        self, name: str, bu: str, namespace: pulumi.Output[str], args: BuTenantArgs
    ) -> None:
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        for persona in PERSONAS:
            principal = args["persona_role_arns"].get(persona)
            if principal is None:
                continue
            entry = aws.eks.AccessEntry(
                f"{name}-access-{persona}",
                cluster_name=args["cluster_name"],
                principal_arn=principal,
                type="STANDARD",
                kubernetes_groups=[persona_group(bu, persona)],
                tags=args["tags"],
                opts=child(self),
            )
            if persona == "auditor":
                aws.eks.AccessPolicyAssociation(
                    f"{name}-access-{persona}-view",
                    cluster_name=args["cluster_name"],
                    principal_arn=principal,
                    policy_arn=partition.apply(
                        lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
                    ),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                        type="namespace", namespaces=[namespace]
                    ),
                    # The association needs the entry to exist first.
                    opts=child(self, depends_on=[entry]),
                )


def _prefix_list_cidrs(entry_lists: list[Any]) -> list[str]:
    """The CIDRs of managed prefix lists' entries, deduplicated and sorted (stable diffs)."""
    cidrs = set()
    for entries in entry_lists:
        for entry in entries or []:
            cidr = entry.get("cidr") if isinstance(entry, dict) else getattr(entry, "cidr", None)
            if cidr:
                cidrs.add(str(cidr))
    return sorted(cidrs)
