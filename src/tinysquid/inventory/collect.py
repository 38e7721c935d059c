"""The read-only AWS calls: ACTIONS (the one list of what may be called) and one describe_<resource>() each.

Every call goes through ``Caller.call``, which refuses any action not in ``ACTIONS`` — so the IAM
policy ``iam.py`` builds from the same tuple is exactly what the command needs, and no mutating call
can slip in. List calls are paginated with botocore's paginators. A refused call (AccessDenied /
UnauthorizedOperation) becomes a ``PermissionGap`` the caller turns into a TS600 finding and keeps
going; a boto3 Session is passed in, never created here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Service:
    """An AWS API: the boto3 client name and the IAM action prefix (they differ for elbv2)."""

    client: str
    iam: str


EC2 = Service("ec2", "ec2")
ELBV2 = Service("elbv2", "elasticloadbalancing")
ROUTE53 = Service("route53", "route53")
AUTOSCALING = Service("autoscaling", "autoscaling")

# THE list of AWS actions inventory-aws performs. Read-only by construction: every name starts with
# Describe/List (a unit test checks). iam.py turns it into the policy; Caller.call refuses others.
ACTIONS: tuple[tuple[Service, str], ...] = (
    (EC2, "DescribeRegions"),
    (EC2, "DescribeInstances"),
    (EC2, "DescribeAddresses"),
    (EC2, "DescribeSecurityGroups"),
    (EC2, "DescribeNatGateways"),
    (ELBV2, "DescribeLoadBalancers"),
    (ELBV2, "DescribeLoadBalancerAttributes"),
    (ELBV2, "DescribeListeners"),
    (ELBV2, "DescribeTargetGroups"),
    (ELBV2, "DescribeTargetGroupAttributes"),
    (ELBV2, "DescribeTargetHealth"),
    (AUTOSCALING, "DescribeAutoScalingGroups"),
    (ROUTE53, "ListHostedZones"),
    (ROUTE53, "ListResourceRecordSets"),
)
_ALLOWED = {(svc.client, action) for svc, action in ACTIONS}

# Error codes AWS uses for "you may not": EC2 says UnauthorizedOperation, the query/JSON APIs say
# AccessDenied or AccessDeniedException, Route 53 AccessDenied (AWS error-code references).
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                          "UnauthorizedAccess", "AuthorizationError", "Forbidden"})


class PermissionGap(Exception):
    """One call was refused: which action, in which region, and AWS's message."""

    def __init__(self, action: str, region: str, message: str) -> None:
        super().__init__(f"{action} in {region}: {message}")
        self.action, self.region, self.message = action, region, message


class ApiFailure(Exception):
    """One call failed for another reason (after botocore's retries)."""

    def __init__(self, action: str, region: str, message: str, *, unreachable: bool = False) -> None:
        super().__init__(f"{action} in {region}: {message}")
        self.action, self.region, self.message, self.unreachable = action, region, message, unreachable


class NoCredentials(Exception):
    """No usable credentials: none found in the provider chain, or AWS rejected them (expired, invalid)."""


# Error codes meaning "these credentials are no good" (not "you may not"): exit 4, not a gap.
REJECTED_CODES = frozenset({"AuthFailure", "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                            "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                            "RequestExpired"})


def _snake(action: str) -> str:
    out = []
    for i, ch in enumerate(action):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def botocore_config(*, retry_mode: str = "adaptive", max_attempts: int = 5, timeout: float = 10.0) -> Any:
    """Retries in ``adaptive`` (client-side rate limiting) or ``standard`` mode, bounded timeouts."""
    from botocore.config import Config

    return Config(retries={"mode": retry_mode, "max_attempts": max_attempts},
                  connect_timeout=timeout, read_timeout=timeout * 3,
                  user_agent_extra="tinysquid-inventory", max_pool_connections=20)


class Caller:
    """Clients for one region, created once under a lock (a boto3 Session is not thread-safe)."""

    _session_lock = threading.Lock()

    def __init__(self, session: Any, region: str, *, endpoint_url: str | None = None,
                 config: Any = None, page_size: int | None = None) -> None:
        self.session = session
        self.region = region
        self.endpoint_url = endpoint_url
        self.config = config if config is not None else botocore_config()
        self.page_size = page_size
        self._clients: dict[str, Any] = {}

    def client(self, service: Service) -> Any:
        """The boto3 client for one service in this region (cached)."""
        if service.client not in self._clients:
            with Caller._session_lock:
                self._clients[service.client] = self.session.client(
                    service.client, region_name=self.region, endpoint_url=self.endpoint_url,
                    config=self.config)
        return self._clients[service.client]

    def call(self, service: Service, action: str, result_key: str, **params: Any) -> list[Any]:
        """Run one listed read action, every page, and return the concatenated ``result_key`` items."""
        if (service.client, action) not in _ALLOWED:
            raise AssertionError(f"{service.client}:{action} is not in inventory.collect.ACTIONS")
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
        from botocore.exceptions import ConnectionError as BotoConnError

        client = self.client(service)
        op = _snake(action)
        iam_action = f"{service.iam}:{action}"
        try:
            if client.can_paginate(op):
                cfg = {"PageSize": self.page_size} if self.page_size else {}
                items: list[Any] = []
                for page in client.get_paginator(op).paginate(**params, PaginationConfig=cfg):
                    items.extend(page.get(result_key, []))
                return items
            return list(getattr(client, op)(**params).get(result_key, []))
        except NoCredentialsError as exc:
            raise NoCredentials(str(exc)) from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code, message = str(err.get("Code", "")), str(err.get("Message", "")) or str(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in REJECTED_CODES:
                raise NoCredentials(f"AWS rejected the credentials ({code}: {message})") from None
            if code in DENIED_CODES or status == 403:
                raise PermissionGap(iam_action, self.region, f"{code}: {message}") from None
            raise ApiFailure(iam_action, self.region, f"{code}: {message}") from None
        except (BotoConnError, NoRegionError) as exc:
            raise ApiFailure(iam_action, self.region, str(exc), unreachable=True) from None
        except BotoCoreError as exc:
            raise ApiFailure(iam_action, self.region, str(exc)) from None


# --- one describe_<resource>() per call ------------------------------------------------------------

_GONE = ("terminated", "shutting-down")


def describe_regions(caller: Caller) -> list[str]:
    """Enabled regions of the account (opt-in regions not opted into are left out by AWS)."""
    return sorted(r["RegionName"] for r in caller.call(EC2, "DescribeRegions", "Regions"))


def describe_instances(caller: Caller, filters: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Instances that are not terminated (all, or those matching server-side ``filters``), flattened."""
    params = {"Filters": filters} if filters else {}
    reservations = caller.call(EC2, "DescribeInstances", "Reservations", **params)
    return [i for r in reservations for i in r.get("Instances", [])
            if i.get("State", {}).get("Name") not in _GONE]


def describe_addresses(caller: Caller) -> list[dict[str, Any]]:
    """Every Elastic IP (DescribeAddresses is not paginated: AWS returns them all)."""
    return caller.call(EC2, "DescribeAddresses", "Addresses")


def describe_security_groups(caller: Caller) -> list[dict[str, Any]]:
    """Every security group with its rules."""
    return caller.call(EC2, "DescribeSecurityGroups", "SecurityGroups")


def describe_nat_gateways(caller: Caller) -> list[dict[str, Any]]:
    """NAT gateways that exist (for the target-side cost: an existing one makes only per-GB incremental)."""
    gws = caller.call(EC2, "DescribeNatGateways", "NatGateways")
    return [g for g in gws if g.get("State") not in ("deleted", "deleting", "failed")]


def describe_load_balancers(caller: Caller) -> list[dict[str, Any]]:
    """Every ELBv2 load balancer (network, application, gateway) in the region."""
    return caller.call(ELBV2, "DescribeLoadBalancers", "LoadBalancers")


def describe_target_groups(caller: Caller) -> list[dict[str, Any]]:
    """Every target group in the region."""
    return caller.call(ELBV2, "DescribeTargetGroups", "TargetGroups")


def describe_target_health(caller: Caller, tg_arn: str) -> list[dict[str, Any]]:
    """The registered targets of one target group, with their health."""
    return caller.call(ELBV2, "DescribeTargetHealth", "TargetHealthDescriptions", TargetGroupArn=tg_arn)


def describe_target_group_attributes(caller: Caller, tg_arn: str) -> dict[str, str]:
    """Deregistration delay, client IP preservation, proxy protocol v2, … of one target group."""
    attrs = caller.call(ELBV2, "DescribeTargetGroupAttributes", "Attributes", TargetGroupArn=tg_arn)
    return {a["Key"]: a["Value"] for a in attrs}


def describe_listeners(caller: Caller, lb_arn: str) -> list[dict[str, Any]]:
    """The listeners of one load balancer."""
    return caller.call(ELBV2, "DescribeListeners", "Listeners", LoadBalancerArn=lb_arn)


def describe_load_balancer_attributes(caller: Caller, lb_arn: str) -> dict[str, str]:
    """Cross-zone, deletion protection, access logs, … of one load balancer."""
    attrs = caller.call(ELBV2, "DescribeLoadBalancerAttributes", "Attributes", LoadBalancerArn=lb_arn)
    return {a["Key"]: a["Value"] for a in attrs}


def describe_auto_scaling_groups(caller: Caller) -> list[dict[str, Any]]:
    """Every Auto Scaling group in the region."""
    return caller.call(AUTOSCALING, "DescribeAutoScalingGroups", "AutoScalingGroups")


def list_hosted_zones(caller: Caller) -> list[dict[str, Any]]:
    """Every Route 53 hosted zone, public and private (Route 53 is global)."""
    return caller.call(ROUTE53, "ListHostedZones", "HostedZones")


def list_resource_record_sets(caller: Caller, zone_id: str) -> list[dict[str, Any]]:
    """Every record set of one hosted zone."""
    return caller.call(ROUTE53, "ListResourceRecordSets", "ResourceRecordSets", HostedZoneId=zone_id)


# --- what one region yields ------------------------------------------------------------------------


@dataclass
class RegionData:
    """The raw AWS descriptions of one region, as returned (boto3 dicts), plus what was refused."""

    region: str
    instances: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    nat_gateways: list[dict[str, Any]] = field(default_factory=list)
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    target_groups: list[dict[str, Any]] = field(default_factory=list)
    target_health: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    target_group_attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    listeners: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    load_balancer_attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    auto_scaling_groups: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    unreachable: bool = False


@dataclass
class DnsData:
    """Route 53 zones and their record sets (global), plus what was refused."""

    zones: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)


def guarded(failures: list[Exception], fn: Callable[..., Any], *args: Any, default: Any) -> Any:
    """Run one describe call; a refusal or failure is recorded and ``default`` returned (keep going)."""
    try:
        return fn(*args)
    except (PermissionGap, ApiFailure) as exc:
        failures.append(exc)
        return default


def collect_dns(caller: Caller) -> DnsData:
    """Route 53: every zone and its record sets (only alias/CNAME/A matter; filtered later)."""
    data = DnsData()
    data.zones = guarded(data.failures, list_hosted_zones, caller, default=[])
    for zone in data.zones:
        data.records[zone["Id"]] = guarded(data.failures, list_resource_record_sets, caller, zone["Id"],
                                           default=[])
    return data
