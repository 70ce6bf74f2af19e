"""Realistic answers for the Pulumi mock runtime, as a table of handlers by token.

The mock runtime asks two questions: "what did creating this resource produce?" (`new_resource`)
and "what does this function return?" (`call`). Our answers are shaped like AWS's and
Kubernetes's — IDs with the right prefixes, ARNs with the right partition/region/account layout,
autonames like Pulumi's, endpoints and DNS names in the formats the services use — so that
programs which parse or interpolate them (ARN joins, `split(":")`, JSON policies, kubeconfigs)
behave as they do for real.

Layout: `registry.py` holds the tables and the decorators that fill them; `core.py` the
`EstateMocks` class that dispatches; `aws.py` and `kubernetes.py` the generic answer of each
provider; one module per AWS service (`aws_ec2.py`, `aws_s3.py`, `aws_iam.py`, `aws_eks.py`, ...)
registers its types' facts, state and invokes; `random_provider.py` and `tls.py` compute what
pulumi-random and pulumi-tls resources produce (passwords, keys, certificates) for real. A type with no entry gets its provider's generic
answer; an invoke with no entry is collected in `EstateMocks.unanswered_calls`.

Everything is derived from a hash of the type, logical name and a per-stack salt, or from values
the program itself passed in (a subnet's VPC, a cluster's version), so a render is deterministic:
the same program and config always produce the same inventory, which is what makes `--base`
diffs and golden files possible. Answers never depend on the order in which registrations arrive
(the SDK registers from a thread pool); a lookup of an earlier resource only happens when the
program's data flow guarantees that resource was registered first.
"""

from __future__ import annotations

# The service modules register their handlers on import.
from estate.offline.mocks import (  # noqa: F401
    aws_app,
    aws_data,
    aws_ec2,
    aws_edge,
    aws_eks,
    aws_iam,
    aws_index,
    aws_kms,
    aws_s3,
    kubernetes,
    random_provider,
    tls,
)
from estate.offline.mocks.aws_eks import ADDON_VERSIONS
from estate.offline.mocks.aws_iam import policy_document_json
from estate.offline.mocks.common import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    UNKNOWN,
    autoname,
    fake_certificate_data,
    region_code,
    stable_hex,
    stable_uuid,
)
from estate.offline.mocks.core import EstateMocks

__all__ = [
    "ACCOUNT_ID",
    "ADDON_VERSIONS",
    "DEFAULT_REGION",
    "UNKNOWN",
    "EstateMocks",
    "autoname",
    "fake_certificate_data",
    "policy_document_json",
    "region_code",
    "stable_hex",
    "stable_uuid",
]
