"""Load balancing and DNS: ELBv2 load balancers and target groups, CloudFront, Route 53."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estate.offline.mocks.common import stable_digits, stable_hex, stable_uuid
from estate.offline.mocks.registry import Arn, AwsType, NewAwsResource, aws_types, invoke, resource

if TYPE_CHECKING:
    from estate.offline.mocks.core import EstateMocks


aws_types(
    {
        "aws:lb/loadBalancer:LoadBalancer": AwsType(
            arn=Arn("elasticloadbalancing", "loadbalancer/{lbkind}/{name}/{hex16}"), id_is_arn=True
        ),
        "aws:lb/targetGroup:TargetGroup": AwsType(
            arn=Arn("elasticloadbalancing", "targetgroup/{name}/{hex16}"), id_is_arn=True
        ),
    }
)


@resource("aws:cloudfront/distribution:Distribution")
def _distribution(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    rid = r.rid
    return {
        "domainName": f"d{stable_hex(rid, length=13)}.cloudfront.net",
        "hostedZoneId": "Z2FDTNDATAQYW2",
        "status": "Deployed",
    }


@resource("aws:lb/loadBalancer:LoadBalancer")
def _load_balancer(m: EstateMocks, r: NewAwsResource) -> dict[str, Any]:
    typ, inputs, physical, rid, region = r.typ, r.inputs, r.physical, r.rid, r.region
    internal = "internal-" if inputs.get("internal") else ""
    digits = stable_digits(typ, physical, region, length=10)
    return {
        "dnsName": f"{internal}{physical}-{digits}.{region}.elb.amazonaws.com",
        "zoneId": "Z35SXDOTRQ7X7K",
        "loadBalancerType": inputs.get("loadBalancerType") or "application",
        "arnSuffix": rid.split(":loadbalancer/", 1)[-1],
    }


@invoke("aws:route53/getZone:getZone")
def _get_zone(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    zone_name = str(a.get("name") or "example.com").rstrip(".")
    zid = "Z" + stable_hex("zone", zone_name, length=20).upper()
    return {
        "id": zid,
        "zoneId": zid,
        "name": zone_name,
        "arn": f"arn:aws:route53:::hostedzone/{zid}",
        "privateZone": bool(a.get("privateZone")),
        "nameServers": [f"ns-{i * 512 + 17}.awsdns-{i:02d}.net" for i in range(4)],
        "resourceRecordSetCount": 2,
        "callerReference": stable_uuid("zone", zone_name),
    }


@invoke("aws:lb/getLoadBalancer:getLoadBalancer")
def _get_load_balancer(m: EstateMocks, a: dict[str, Any], region: str) -> dict[str, Any]:
    # The serving Gateway's ALB, which a BU stack looks up by the name the platform fixes (the
    # load-balancer controller creates it, so no stack owns it).
    lb_name = str(a.get("name") or "lb")
    suffix = f"app/{lb_name}/{stable_hex('alb', lb_name, region, length=16)}"
    arn = m.arn("elasticloadbalancing", f"loadbalancer/{suffix}", True, region)
    return {
        "id": arn,
        "arn": arn,
        "arnSuffix": suffix,
        "name": lb_name,
        "loadBalancerType": "application",
        "internal": True,
        "dnsName": f"internal-{lb_name}-{stable_hex('dns', lb_name, length=10)}.{region}.elb.amazonaws.com",
    }
