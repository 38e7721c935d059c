"""The read-only AWS calls: ACTIONS (the one list of what may be called) and one describe_<resource>() each.

Every call goes through ``Caller.call``, which refuses any action not in ``ACTIONS`` — so the IAM
policy ``iam.py`` builds from the same tuple is exactly what the command needs, and no mutating call
can slip in. List calls are paginated with botocore's paginators. A refused call (AccessDenied /
UnauthorizedOperation) becomes a ``PermissionGap`` the caller turns into a TS600 finding and keeps
going; a boto3 Session is passed in, never created here.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
PRICING = Service("pricing", "pricing")

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
# Asked only with --prices-from api (the AWS Price List API); --print-iam-policy adds it then.
PRICING_ACTIONS: tuple[tuple[Service, str], ...] = ((PRICING, "GetProducts"),)
_ALLOWED = {(svc.client, action) for svc, action in ACTIONS + PRICING_ACTIONS}

# Error codes AWS uses for "you may not": EC2 says UnauthorizedOperation, the query/JSON APIs say
# AccessDenied or AccessDeniedException, Route 53 AccessDenied (AWS error-code references).
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                          "UnauthorizedAccess", "AuthorizationError", "Forbidden"})


class PermissionGap(Exception):
    """One call was refused: which action, in which region, and AWS's message."""

    def __init__(self, action: str, region: str, message: str) -> None:
        super().__init__(f"{action} in {region}: {message}")
        self.action, self.region, self.message = action, region, message


# What went wrong with a call that was not refused. The last three end the region: every later call
# would go to the same endpoint with the same credentials and fail the same way.
ERROR, UNREACHABLE, BAD_ANSWER, REJECTED = "error", "unreachable", "bad-answer", "rejected"
ENDS_REGION = frozenset({UNREACHABLE, BAD_ANSWER, REJECTED})


class ApiFailure(Exception):
    """One call failed for another reason (after botocore's retries); ``kind`` says how."""

    def __init__(self, action: str, region: str, message: str, *, unreachable: bool = False,
                 kind: str | None = None) -> None:
        super().__init__(f"{action} in {region}: {message}")
        self.action, self.region, self.message = action, region, message
        self.kind = kind or (UNREACHABLE if unreachable else ERROR)

    @property
    def unreachable(self) -> bool:
        """True when the endpoint could not be reached at all."""
        return self.kind == UNREACHABLE

    @property
    def ends_region(self) -> bool:
        """True when no later call in this region can succeed (unreachable, not AWS, rejected)."""
        return self.kind in ENDS_REGION


class NoCredentials(Exception):
    """No usable credentials: none found in the provider chain, or AWS rejected them (expired, invalid)."""


class NotAnAwsAnswer(Exception):
    """The endpoint answered something no AWS API sends (HTML, an empty body, bytes that are no document)."""


# Error codes meaning "these credentials are no good here" (not "you may not"). In one region of
# several it is that region's gap (AuthFailure is what an opt-in region not enabled answers); when
# every region and Route 53 answer it, the credentials are no good at all: exit 4.
REJECTED_CODES = frozenset({"AuthFailure", "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                            "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                            "RequestExpired", "OptInRequired"})

_SHOWN = 60  # bytes of a non-AWS answer quoted in the gap


def _quote(body: bytes) -> str:
    text = body[:_SHOWN].decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(text) + ("…" if len(body) > _SHOWN else "")


_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<(?:[\w.-]+:)?([\w.-]+)", re.S)


def check_answer(response_dict: dict[str, Any], operation_model: Any = None, **_: Any) -> None:
    """botocore ``before-parse`` hook: refuse an answer no AWS API gives, before botocore parses it.

    AWS answers every call tinysquid makes with an XML document (query, ec2, rest-xml protocols) or a
    JSON object (the Price List API). A captive portal, a corporate proxy's error page or a broken
    endpoint answers HTML, nothing, or garbage; botocore would raise KeyError from its parser or,
    for EC2, read an HTML page as "no resources here". 5xx answers are left to botocore's retries
    (and become an ApiFailure after them).
    """
    status = int(response_dict.get("status_code") or 0)
    if status >= 500:
        return
    body = response_dict.get("body") or b""
    if not isinstance(body, bytes | bytearray):
        return  # a streaming body: no operation tinysquid calls has one
    headers = response_dict.get("headers") or {}
    ctype = str(headers.get("content-type", headers.get("Content-Type", ""))).lower()
    head = bytes(body).lstrip()[:64].lower()
    html = "html" in ctype or head.startswith((b"<!doctype html", b"<html"))
    if not head or html or not head.startswith((b"<", b"{")):
        what = "an empty body" if not head else f"{ctype or 'no content type'}: {_quote(bytes(body))}"
        raise NotAnAwsAnswer(f"the endpoint answered HTTP {status} with {what}, not an AWS API response")
    protocol = str(getattr(getattr(operation_model, "service_model", None), "protocol", "") or "")
    xml = protocol in ("query", "ec2", "rest-xml")
    if protocol and head.startswith(b"<") != xml:
        raise NotAnAwsAnswer(f"the endpoint answered HTTP {status} with {ctype or 'no content type'}: "
                             f"{_quote(bytes(body))}, not the {'XML' if xml else 'JSON'} this AWS API sends")
    if head.startswith(b"<") and status < 300 and operation_model is not None:
        # A successful XML answer's root element is <OperationNameResponse> (query, ec2 and rest-xml
        # protocols alike); EC2's lenient parser would read any other document as "nothing here".
        root = _ROOT.match(bytes(body)[:4096])
        expected = f"{operation_model.name}Response"
        if root is None or root.group(1).decode("ascii", "replace") != expected:
            found = root.group(1).decode("ascii", "replace") if root else "no element"
            raise NotAnAwsAnswer(f"the endpoint answered HTTP {status} with an XML document <{found[:40]}>, "
                                 f"not the <{expected}> AWS sends")


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
        """The boto3 client for one service in this region (cached), refusing non-AWS answers."""
        if service.client not in self._clients:
            with Caller._session_lock:
                client = self.session.client(service.client, region_name=self.region,
                                             endpoint_url=self.endpoint_url, config=self.config)
            client.meta.events.register("before-parse", check_answer)
            self._clients[service.client] = client
        return self._clients[service.client]

    def call(self, service: Service, action: str, result_key: str, *, first_page: bool = False,
             **params: Any) -> list[Any]:
        """Run one listed read action, every page (or only the first), and return the ``result_key`` items."""
        if (service.client, action) not in _ALLOWED:
            raise AssertionError(f"{service.client}:{action} is not in inventory.collect.ACTIONS")
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ReadTimeoutError
        from botocore.exceptions import ConnectionError as BotoConnError
        from botocore.parsers import ResponseParserError

        client = self.client(service)
        op = _snake(action)
        iam_action = f"{service.iam}:{action}"
        try:
            if client.can_paginate(op) and not first_page:
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
                raise ApiFailure(iam_action, self.region, f"AWS rejected the credentials ({code}: {message})",
                                 kind=REJECTED) from None
            if code in DENIED_CODES or status == 403:
                raise PermissionGap(iam_action, self.region, f"{code}: {message}") from None
            if code.isdigit() or not code:  # no AWS error document: botocore put the HTTP status there
                raise ApiFailure(iam_action, self.region, f"HTTP {status} without an AWS error document "
                                 f"({message})", kind=BAD_ANSWER) from None
            raise ApiFailure(iam_action, self.region, f"{code}: {message}") from None
        except (BotoConnError, ReadTimeoutError, NoRegionError) as exc:
            raise ApiFailure(iam_action, self.region, str(exc), kind=UNREACHABLE) from None
        except NotAnAwsAnswer as exc:
            raise ApiFailure(iam_action, self.region, str(exc), kind=BAD_ANSWER) from None
        except (ResponseParserError, KeyError, TypeError, AttributeError) as exc:
            # botocore's parsers raise these on a well-formed document of the wrong shape
            raise ApiFailure(iam_action, self.region, f"the answer is not the document AWS sends for it "
                             f"({type(exc).__name__}: {str(exc)[:120]})", kind=BAD_ANSWER) from None
        except BotoCoreError as exc:
            raise ApiFailure(iam_action, self.region, str(exc)) from None


# --- lean service models ----------------------------------------------------------------------------
#
# botocore builds a client class with one method per operation each time a client is created: for
# EC2 (about 800 operations) that is most of the 8 ms each region's client costs, and loading the
# 3.7 MB model is most of a run's fixed cost. A session made by ``lean_session`` is served EC2's
# model cut down to the operations in ACTIONS (the same shapes, documentation dropped), written
# once per botocore version into the XDG cache and found through botocore's own data-path
# mechanism (``Loader.search_paths``, as AWS_DATA_PATH does). Paginators and endpoint rules still
# come from botocore. Anything unexpected leaves the session as botocore made it.

_LEAN_SERVICES = ("ec2",)


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/tinysquid`` (``~/.cache/tinysquid`` when unset or not absolute)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if base and os.path.isabs(base) else Path.home() / ".cache") / "tinysquid"


def _reachable_shapes(model: dict[str, Any], operations: dict[str, Any]) -> dict[str, Any]:
    shapes = model["shapes"]
    need: set[str] = set()
    stack = [ref["shape"] for op in operations.values() for key in ("input", "output") if (ref := op.get(key))]
    stack += [err["shape"] for op in operations.values() for err in op.get("errors", [])]
    while stack:
        name = stack.pop()
        if name in need or name not in shapes:
            continue
        need.add(name)
        shape = shapes[name]
        stack += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
        stack += [m["shape"] for m in shape.get("members", {}).values()]
    return {name: {k: v for k, v in shapes[name].items() if k != "documentation"} for name in sorted(need)}


def lean_models_dir() -> Path | None:
    """A data path holding the cut-down models (made on first use), or None when it cannot be made."""
    import botocore
    from botocore.loaders import create_loader

    root: Path = cache_root() / "models" / str(botocore.__version__)
    try:
        loader = create_loader()
        for service in _LEAN_SERVICES:
            version = loader.determine_latest_version(service, "service-2")
            path = root / service / version / "service-2.json"
            if path.exists():
                continue
            model = loader.load_service_model(service, "service-2")
            wanted = {action for svc, action in ACTIONS if svc.client == service}
            operations = {name: {k: v for k, v in op.items() if k != "documentation"}
                          for name, op in model["operations"].items() if name in wanted}
            if set(operations) != wanted:
                return None
            lean = {**model, "operations": operations, "shapes": _reachable_shapes(model, operations)}
            lean.pop("documentation", None)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".service-2.json.{os.getpid()}")
            tmp.write_text(json.dumps(lean, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, path)
    except (OSError, ValueError, KeyError):
        return None
    return root


def lean_session(profile: str | None = None) -> Any:
    """A boto3 Session (``profile`` as boto3 reads it) whose EC2 clients are built from the lean model."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    data_path = lean_models_dir()
    if data_path is not None:
        loader = core.get_component("data_loader")
        loader.search_paths.insert(0, str(data_path))
    return boto3.Session(botocore_session=core, profile_name=profile)


# --- one describe_<resource>() per call ------------------------------------------------------------

_GONE = ("terminated", "shutting-down")


def describe_regions(caller: Caller) -> list[str]:
    """Enabled regions of the account (opt-in regions not opted into are left out by AWS)."""
    return sorted(r["RegionName"] for r in caller.call(EC2, "DescribeRegions", "Regions"))


def describe_instances(caller: Caller, filters: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Instances that are not terminated (all, or those matching server-side ``filters``), flattened."""
    params: dict[str, Any] = {"Filters": filters} if filters else {}
    reservations = caller.call(EC2, "DescribeInstances", "Reservations", **params)
    return [i for r in reservations for i in r.get("Instances", [])
            if i.get("State", {}).get("Name") not in _GONE]


def any_instance(caller: Caller) -> bool:
    """Whether the region holds any instance at all (one small page): an empty region is skipped."""
    return bool(caller.call(EC2, "DescribeInstances", "Reservations", first_page=True, MaxResults=5))


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
    unreachable: bool = False  # a call ended the region (unreachable, not AWS, credentials rejected)
    empty: bool = False  # no instance and no Elastic IP: nothing else was asked


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
