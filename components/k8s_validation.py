"""Kubernetes name and quantity rules, as pure functions.

The config schema (`estate.stack.config`) checks a stack file with these, and the components
(`tenant`, `gpu_pools`) check their own arguments with the same functions, so a name or a
quantity the schema accepts is one the components accept too. Each function returns a problem
sentence (without naming the field: the caller knows its key) or None when the value is fine.

Rules from the Kubernetes API conventions (apimachinery `validation.go`, `quantity.go`):
a namespace and a Pod's service account are DNS names, label keys are an optional DNS
subdomain prefix plus a name of at most 63 characters, and a resource quantity is a decimal
number with an optional SI or binary suffix.
"""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
"""RFC 1123 label: namespaces, most object names."""
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
"""RFC 1123 subdomain: service accounts, label key prefixes."""
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
"""The name part of a label key, and a non-empty label value."""
QUANTITY = re.compile(r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][-+]?[0-9]+)?$")
"""A non-negative Kubernetes resource quantity (`500m`, `2`, `16Gi`, `1e3`)."""

RESTRICTED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws")
"""Label prefixes owned by Kubernetes and Karpenter: the kubelet or Karpenter refuses or
overwrites user labels under them."""

RESERVED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "karpenter", "amazon-cloudwatch"}
)
"""Namespaces the cluster or the platform's add-ons own; `kube-*` is reserved as a whole."""

CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
"""What a LimitRange default may set (a default GPU would hand every pod a GPU)."""


def dns_label_problem(value: str, max_length: int = 63) -> str | None:
    """Why `value` is not a lower-case DNS label of at most `max_length` characters."""
    if len(value) > max_length or not DNS_LABEL.match(value):
        return (
            f"must be a lower-case DNS label of at most {max_length} characters (letters, "
            "digits and '-', starting and ending with a letter or digit)"
        )
    return None


def namespace_problem(name: str) -> str | None:
    """Why `name` cannot be a BU's namespace (a DNS label that no system component owns)."""
    problem = dns_label_problem(name)
    if problem:
        return problem
    if name in RESERVED_NAMESPACES or name.startswith("kube-"):
        return f"'{name}' is a Kubernetes or platform system namespace and cannot be a BU"
    return None


def service_account_problem(name: str) -> str | None:
    """Why `name` is not a valid Kubernetes service account name (a DNS subdomain)."""
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        return (
            "must be a Kubernetes service account name: lower-case letters, digits, '-' and '.', "
            "at most 253 characters"
        )
    return None


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a label key a user may set on nodes."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return f"label key '{key}' has an invalid prefix (it must be a DNS subdomain)"
    if not name or len(name) > 63 or not LABEL_NAME.match(name):
        return (
            f"label key '{key}' is not a valid Kubernetes label name (at most 63 letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit)"
        )
    if prefix and any(prefix == d or prefix.endswith("." + d) for d in RESTRICTED_LABEL_DOMAINS):
        return f"label key '{key}' uses a domain reserved for Kubernetes/Karpenter"
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value (empty is allowed)."""
    if value and (len(value) > 63 or not LABEL_NAME.match(value)):
        return (
            f"label value '{value}' is not a valid label value (at most 63 letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit)"
        )
    return None


def quantity_problem(value: object) -> str | None:
    """Why `value` is not a non-negative Kubernetes quantity such as '8', '500m' or '16Gi'."""
    if not isinstance(value, str) or len(value) > 64 or not QUANTITY.match(value):
        return "must be a Kubernetes quantity such as '8', '500m' or '16Gi'"
    return None
