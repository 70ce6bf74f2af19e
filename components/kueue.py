"""Fair-share GPU admission with Kueue: the names other components agree on.

A BU's batch workloads (the retraining `ScaledJob`, ad-hoc training Jobs) are admitted by Kueue
through the BU's LocalQueue; the label `kueue.x-k8s.io/queue-name` on a Job names it. The names
are functions here so the component that creates the queue and every workload that submits to it
use one spelling.
"""

from __future__ import annotations

QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"
"""The label a Job (or a KEDA ScaledJob's job template) carries to be admitted by a LocalQueue."""


def local_queue_name(bu: str) -> str:
    """The BU's LocalQueue in its namespace (`fraud-gpu`): what its batch jobs name."""
    return f"{bu}-gpu"


def cluster_queue_name(bu: str) -> str:
    """The BU's ClusterQueue (cluster-scoped, `fraud`): holds the BU's GPU quota in the cohort."""
    return bu
