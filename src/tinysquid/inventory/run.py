"""The inventory run: regions concurrently (threads), selection, relationships, costs → one document.

``run_inventory(session, options, progress)`` is the whole command minus the CLI. The boto3 Session
comes from the caller; each region gets its own clients (created under a lock) and runs in its own
thread, Route 53 (global) in another. Progress is reported as ``progress(done, total)`` steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Diagnostic, make
from tinysquid.inventory import collect
from tinysquid.inventory.collect import ApiFailure, Caller, DnsData, NoCredentials, PermissionGap, RegionData
from tinysquid.inventory.cost import Prices, load_prices, price_estate
from tinysquid.inventory.graph import Records, nodes_of, relate_dns, relate_region
from tinysquid.inventory.model import build_document
from tinysquid.inventory.select import (
    Criteria,
    Reason,
    proxy_port_groups,
    proxy_port_targets,
    select_idle_addresses,
    select_instances,
)

SOURCE = "inventory"
Progress = Callable[[int, int], None]

# The steps one region reports (for the progress bar): one per describe phase.
_REGION_STEPS = 8


@dataclass(frozen=True)
class Options:
    """What to list and how (the CLI options, parsed)."""

    criteria: Criteria = Criteria()
    regions: tuple[str, ...] = ()
    all_regions: bool = False
    endpoint_url: str | None = None
    # Per-region endpoints (region → URL), overriding endpoint_url: real AWS regions are separate
    # endpoints; the benchmark models that with one moto server per region.
    region_endpoints: tuple[tuple[str, str], ...] = ()
    monthly_gb: float = 0.0
    prices: Prices | None = None
    page_size: int | None = None
    retry_mode: str = "adaptive"
    max_attempts: int = 5
    timeout: float = 10.0


@dataclass
class InventoryResult:
    """The document and the findings (gaps among them)."""

    document: dict[str, Any]
    report: Report
    gaps: list[Diagnostic] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """True when some call was refused or some region unreachable (exit 5)."""
        return bool(self.gaps)


class _Steps:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self._lock = threading.Lock()

    def tick(self, n: int = 1) -> None:
        with self._lock:
            self.done = min(self.total, self.done + n)
            done = self.done
        if self.progress is not None:
            self.progress(done, self.total)


def _gap(exc: Exception) -> Diagnostic:
    if isinstance(exc, PermissionGap):
        return make("TS600", f"{exc.action} refused in {exc.region}: {exc.message}", source=SOURCE,
                    subject=f"{exc.region}/{exc.action}",
                    consequence="resources behind this call are missing from the inventory",
                    data={"action": exc.action, "region": exc.region})
    assert isinstance(exc, ApiFailure)
    if exc.unreachable:
        return make("TS602", f"region {exc.region} unreachable ({exc.action}): {exc.message}", source=SOURCE,
                    subject=f"{exc.region}/{exc.action}", consequence="the region is missing from the inventory",
                    data={"action": exc.action, "region": exc.region})
    return make("TS612", f"{exc.action} failed in {exc.region}: {exc.message}", source=SOURCE,
                subject=f"{exc.region}/{exc.action}",
                consequence="resources behind this call are missing from the inventory",
                data={"action": exc.action, "region": exc.region})


class _Unreachable(Exception):
    pass


def _region(caller: Caller, criteria: Criteria, steps: _Steps) -> tuple[RegionData, Records, dict[str, list[Reason]], dict[str, list[Reason]]]:
    data = RegionData(region=caller.region)

    def get(fn: Callable[..., Any], *args: Any, default: Any) -> Any:
        before = len(data.failures)
        value = collect.guarded(data.failures, fn, caller, *args, default=default)
        if len(data.failures) > before:
            last = data.failures[-1]
            if isinstance(last, ApiFailure) and last.unreachable:
                raise _Unreachable
        return value

    try:
        data.security_groups = get(collect.describe_security_groups, default=[])
        data.addresses = get(collect.describe_addresses, default=[])
        steps.tick()
        data.load_balancers = get(collect.describe_load_balancers, default=[])
        data.target_groups = get(collect.describe_target_groups, default=[])
        steps.tick()
        for tg in data.target_groups:
            arn = tg["TargetGroupArn"]
            data.target_health[arn] = get(collect.describe_target_health, arn, default=[])
        steps.tick()
        # Only candidate instances are fetched (server-side filters, one query per rule): a 5,000
        # instance account yields a few pages instead of every instance. select_instances() then
        # decides on exactly the same rules, so the result equals listing everything.
        seen: dict[str, dict[str, Any]] = {}
        for filters in candidate_filters(data, criteria):
            for inst in get(collect.describe_instances, filters, default=[]):
                seen.setdefault(inst["InstanceId"], inst)
        data.instances = list(seen.values())
        steps.tick()
        selected = select_instances(data.instances, data.security_groups, data.target_groups,
                                    data.target_health, criteria)
        idle = select_idle_addresses(data.addresses, criteria)
        relevant_tgs = [tg for tg in data.target_groups
                        if any(d.get("Target", {}).get("Id") in selected
                               for d in data.target_health.get(tg["TargetGroupArn"], []))]
        for tg in relevant_tgs:
            arn = tg["TargetGroupArn"]
            data.target_group_attributes[arn] = get(collect.describe_target_group_attributes, arn, default={})
        steps.tick()
        lb_arns = sorted({lb for tg in relevant_tgs for lb in tg.get("LoadBalancerArns", [])})
        for arn in lb_arns:
            data.listeners[arn] = get(collect.describe_listeners, arn, default=[])
            data.load_balancer_attributes[arn] = get(collect.describe_load_balancer_attributes, arn, default={})
        steps.tick()
        if selected:
            data.auto_scaling_groups = get(collect.describe_auto_scaling_groups, default=[])
        steps.tick()
        data.nat_gateways = get(collect.describe_nat_gateways, default=[])
        steps.tick()
    except _Unreachable:
        data.unreachable = True
        steps.tick(_REGION_STEPS)
        return data, Records(), {}, {}
    return data, relate_region(data, selected, idle), selected, idle


_FILTER_VALUES = 100  # EC2 accepts up to 200 values per filter; stay well below


def candidate_filters(data: RegionData, criteria: Criteria) -> list[list[dict[str, Any]] | None]:
    """DescribeInstances filter sets, one per selection rule; ``[None]`` means list everything.

    EC2 filter values take ``*``/``?`` wildcards but no ``[...]`` classes, so a Name glob with a
    bracket falls back to listing every instance and matching here.
    """
    out: list[list[dict[str, Any]] | None] = []
    if criteria.tags:
        out.append([{"Name": f"tag:{k}", "Values": [v]} for k, v in criteria.tags])
    if criteria.name_pattern:
        if "[" in criteria.name_pattern:
            return [None]
        out.append([{"Name": "tag:Name", "Values": [criteria.name_pattern]}])
    ids = sorted(proxy_port_targets(data.target_groups, data.target_health, criteria.proxy_port))
    groups = sorted(proxy_port_groups(data.security_groups, criteria.proxy_port))
    for name, values in (("instance-id", ids), ("instance.group-id", groups)):
        for i in range(0, len(values), _FILTER_VALUES):
            out.append([{"Name": name, "Values": values[i:i + _FILTER_VALUES]}])
    return out


def resolve_regions(session: Any, options: Options) -> list[str]:
    """The regions to list: --region values, every enabled region, or the session's default region."""
    if options.regions:
        return sorted(set(options.regions))
    home = session.region_name or "us-east-1"
    if options.all_regions:
        caller = _caller(session, home, options)
        return collect.describe_regions(caller)
    return [home]


def _caller(session: Any, region: str, options: Options) -> Caller:
    config = collect.botocore_config(retry_mode=options.retry_mode, max_attempts=options.max_attempts,
                                     timeout=options.timeout)
    endpoint = dict(options.region_endpoints).get(region, options.endpoint_url)
    return Caller(session, region, endpoint_url=endpoint, config=config, page_size=options.page_size)


def check_credentials(session: Any) -> None:
    """Raise NoCredentials when the session's provider chain finds nothing (never prints them)."""
    from botocore.exceptions import BotoCoreError

    try:
        creds = session.get_credentials()
        access_key = getattr(creds, "access_key", None) if creds is not None else None
    except BotoCoreError as exc:  # expired SSO token, failing credential_process, …
        raise NoCredentials(f"credentials could not be loaded: {exc}") from None
    if not access_key:
        raise NoCredentials("no AWS credentials found")


def run_inventory(session: Any, options: Options, progress: Progress | None = None) -> InventoryResult:
    """List, select, relate and price the legacy proxy estate. Raises NoCredentials; never mutates."""
    check_credentials(session)
    region_failures: list[Exception] = []
    try:
        regions = resolve_regions(session, options)
    except (PermissionGap, ApiFailure) as exc:  # cannot enumerate: list the home region, name the gap
        region_failures.append(exc)
        regions = [session.region_name or "us-east-1"]
    prices = options.prices or load_prices()
    steps = _Steps(len(regions) * _REGION_STEPS + 1, progress)
    callers = {r: _caller(session, r, options) for r in regions}
    dns_caller = _caller(session, "us-east-1", options)  # Route 53 is global, signed in us-east-1

    def dns_job() -> DnsData:
        d = collect.collect_dns(dns_caller)
        steps.tick()
        return d

    # One thread per region (plus Route 53): the calls wait on the network, not on our CPU.
    with ThreadPoolExecutor(max_workers=min(len(regions), 32) + 1, thread_name_prefix="inventory") as pool:
        dns_future = pool.submit(dns_job)
        futures = {r: pool.submit(_region, callers[r], options.criteria, steps) for r in regions}
        results = {r: f.result() for r, f in futures.items()}
        dns = dns_future.result()

    report = Report()
    gaps: list[Diagnostic] = [_gap(exc) for exc in region_failures]
    records = Records()
    selected_total = 0
    for region in regions:
        data, rec, selected, _idle = results[region]
        for failure in data.failures:
            gaps.append(_gap(failure))
        records.merge(rec)
        selected_total += len(selected)
    for failure in dns.failures:
        gaps.append(_gap(failure))
    relate_dns(dns.zones, dns.records, records)

    findings = _findings(records, selected_total, options.criteria)
    doc_wo_costs = {"instances": records.instances, "elastic_ips": records.elastic_ips,
                    "load_balancers": records.load_balancers, "nat_gateways": records.nat_gateways}
    priced = price_estate(doc_wo_costs, prices, monthly_gb=options.monthly_gb)
    findings += priced.findings
    report.extend(gaps)
    report.extend(findings)
    selection = {"tags": [f"{k}={v}" for k, v in options.criteria.tags],
                 "name_pattern": options.criteria.name_pattern, "proxy_port": options.criteria.proxy_port,
                 "rules": ["tag", "name", "target-group", "security-group"]}
    doc = build_document(regions=regions, records=records, graph_nodes=nodes_of(records), costs=priced.costs,
                         gaps=[g.to_record() for g in gaps], findings=[f.to_record() for f in findings],
                         selection=selection)
    return InventoryResult(doc, report, gaps)


def _findings(records: Records, selected_total: int, criteria: Criteria) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if selected_total == 0:
        out.append(make("TS608", f"no instance matched (proxy port {criteria.proxy_port}"
                        + (f", tags {criteria.tags}" if criteria.tags else "")
                        + (f", name {criteria.name_pattern!r}" if criteria.name_pattern else "") + ")",
                        source=SOURCE, subject="selection"))
    for inst in records.instances:
        if not inst.get("public_ip"):
            out.append(make("TS605", f"{inst['id']} ({inst.get('name') or '-'}) has no public IPv4: egress via NAT "
                            "or another hop, not listed in egress_ips", source=SOURCE, subject=f"instance:{inst['id']}"))
        elif inst.get("public_ip_kind") == "auto-assigned":
            out.append(make("TS606", f"{inst['id']} egresses from auto-assigned {inst['public_ip']} (changes at "
                            "stop/start)", source=SOURCE, subject=f"instance:{inst['id']}"))
    for eip in records.elastic_ips:
        if eip["state"] == "idle":
            out.append(make("TS611", f"idle Elastic IP {eip['public_ip']} ({eip['allocation_id']}) is tagged like "
                            "the proxies and still billed", source=SOURCE, subject=f"eip:{eip['allocation_id']}"))
    return out


__all__ = ["InventoryResult", "NoCredentials", "Options", "check_credentials", "resolve_regions", "run_inventory"]
