"""AI Estate governance: the CrossGuard rules the estate's stacks (and any AWS program) must meet.

Rules live by domain (`storage`, `data`, `encryption`, `observability`, `network`, `compute`,
`tagging`, `lifecycle`), are described by `catalog.Rule`, enforced per environment through
`profiles`, and assembled into the pack by `pack.build_pack`.
"""

from .pack import PACK_NAME, RULES, build_pack, build_policies, rule

__all__ = ["PACK_NAME", "RULES", "build_pack", "build_policies", "rule"]
