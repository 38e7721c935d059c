"""The inventory run: regions concurrently (threads), selection, relationships, costs → one document.

``run_inventory(session, options, progress, on_region)`` is the whole command minus the CLI. The
boto3 Session comes from the caller; each region gets its own clients (created under a lock) and
runs on a bounded pool of daemon threads, Route 53 (global) beside them. A region holding no
instance and no Elastic IP costs two calls and is skipped. ``Options.deadline`` bounds the whole
run: what has not finished by then is a TS615 gap (its threads are daemons and die with the
process; their socket timeouts are clamped to the deadline too). Progress is reported as
``progress(done, total)`` steps and ``on_region(summary)`` once per region.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from typing import Any

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Diagnostic, make
from tinysquid.inventory import collect
from tinysquid.inventory.collect import (
    BAD_ANSWER,
    REJECTED,
    ApiFailure,
    Caller,
    DnsData,
    NoCredentials,
    PermissionGap,
    RegionData,
)
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


@dataclass(frozen=True)
class RegionSummary:
    """What one region yielded, for the per-region progress line."""

    region: str
    seconds: float
    instances: int = 0
    elastic_ips: int = 0
    load_balancers: int = 0
    gaps: int = 0
    empty: bool = False
    missing: str | None = None  # why the region is missing (unreachable, rejected, deadline, …)


OnRegion = Callable[[RegionSummary], None]

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
    deadline: float | None = None  # seconds for the whole run; None: bounded by the timeouts only
    prices_from: str = "bundled"  # bundled | auto (cached Price List answers) | api (ask it): pricing.py
    pricing_endpoint_url: str | None = None  # the Price List API endpoint (default: endpoint_url / AWS)
    workers: int = 8  # regions listed at once (threads); Route 53 has its own


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
    if isinstance(exc, _DeadlinePassed):
        return make("TS615", f"{exc.what} not finished when the --deadline of {exc.deadline:g} s passed",
                    source=SOURCE, subject=f"{exc.region}/{exc.action}",
                    consequence=f"what {exc.what} holds is missing from the inventory",
                    data={"action": exc.action, "region": exc.region})
    assert isinstance(exc, ApiFailure)
    data = {"action": exc.action, "region": exc.region}
    if exc.unreachable:
        return make("TS602", f"region {exc.region} unreachable ({exc.action}): {exc.message}", source=SOURCE,
                    subject=f"{exc.region}/{exc.action}", consequence="the region is missing from the inventory",
                    data=data)
    if exc.kind == BAD_ANSWER:
        return make("TS613", f"region {exc.region}: {exc.action}: {exc.message}", source=SOURCE,
                    subject=f"{exc.region}/{exc.action}", consequence="the region is missing from the inventory",
                    data=data)
    if exc.kind == REJECTED:
        return make("TS614", f"region {exc.region} rejected the credentials ({exc.action}): {exc.message}",
                    source=SOURCE, subject=f"{exc.region}/{exc.action}",
                    consequence="the region is missing from the inventory", data=data)
    return make("TS612", f"{exc.action} failed in {exc.region}: {exc.message}", source=SOURCE,
                subject=f"{exc.region}/{exc.action}",
                consequence="resources behind this call are missing from the inventory",
                data=data)


class _DeadlinePassed(Exception):
    def __init__(self, region: str, what: str, action: str, deadline: float) -> None:
        super().__init__(what)
        self.region, self.what, self.action, self.deadline = region, what, action, deadline


class _RegionEnded(Exception):
    pass


_RegionResult = tuple[RegionData, Records, dict[str, list[Reason]], dict[str, list[Reason]]]


def _region(caller: Caller, criteria: Criteria, steps: _Steps) -> _RegionResult:
    data = RegionData(region=caller.region)

    def get(fn: Callable[..., Any], *args: Any, default: Any) -> Any:
        before = len(data.failures)
        value = collect.guarded(data.failures, fn, caller, *args, default=default)
        if len(data.failures) > before:
            last = data.failures[-1]
            if isinstance(last, ApiFailure) and last.ends_region:
                raise _RegionEnded
        return value

    try:
        # One or two calls decide whether there is anything here: most regions of an account hold
        # nothing (no instance; no idle Elastic IP a --tag/--name-pattern could select), and then
        # nothing else is asked.
        if not get(collect.any_instance, default=True):
            if criteria.tags or criteria.name_pattern:
                data.addresses = get(collect.describe_addresses, default=[])
            if not select_idle_addresses(data.addresses, criteria):
                data.empty = True
                steps.tick(_REGION_STEPS)
                return data, Records(), {}, {}
        else:
            data.addresses = get(collect.describe_addresses, default=[])
        data.security_groups = get(collect.describe_security_groups, default=[])
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
    except _RegionEnded:
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


def resolve_regions(session: Any, options: Options, caller: Caller | None = None) -> list[str]:
    """The regions to list: --region values, every enabled region, or the session's default region."""
    if options.regions:
        return sorted(set(options.regions))
    home = session.region_name or "us-east-1"
    if options.all_regions:
        return collect.describe_regions(caller or _caller(session, home, options))
    return [home]


def _caller(session: Any, region: str, options: Options) -> Caller:
    timeout = options.timeout
    if options.deadline is not None:  # no socket wait outlives the run (read timeout is 3 × timeout)
        timeout = max(0.5, min(timeout, options.deadline / 3))
    config = collect.botocore_config(retry_mode=options.retry_mode, max_attempts=options.max_attempts,
                                     timeout=timeout)
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


class _Pool:
    """A bounded pool of daemon threads: a job still running at the deadline never holds up exit."""

    def __init__(self, workers: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"inventory-{n}", daemon=True)
                         for n in range(max(1, workers))]
        for t in self._workers:
            t.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fut, fn = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to whoever reads the future
                fut.set_exception(exc)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        fut: Future[Any] = Future()
        self._jobs.put((fut, fn))
        return fut

    def close(self) -> None:
        """Let idle workers end; busy ones end after their job (or with the process)."""
        for _ in self._workers:
            self._jobs.put(None)


def _wait(futures: list[Future[Any]], until: float | None, on_done: Callable[[Future[Any]], None]) -> None:
    pending = set(futures)
    while pending:
        left = None if until is None else until - time.monotonic()
        if left is not None and left <= 0:
            return
        done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        for fut in done:
            on_done(fut)


def run_inventory(session: Any, options: Options, progress: Progress | None = None,
                  on_region: OnRegion | None = None) -> InventoryResult:
    """List, select, relate and price the legacy proxy estate. Raises NoCredentials; never mutates.

    Raises InputError (TS616) for a region name botocore does not know, before any call.
    """
    from tinysquid.inventory.regions import check_regions

    started = time.monotonic()
    until = None if options.deadline is None else started + options.deadline
    check_regions(options.regions)
    check_credentials(session)
    region_failures: list[Exception] = []
    home = session.region_name or "us-east-1"
    pool = _Pool(options.workers + 1)
    try:
        return _run(session, options, progress, on_region, pool, started, until, region_failures, home)
    finally:
        pool.close()


def _run(session: Any, options: Options, progress: Progress | None, on_region: OnRegion | None, pool: _Pool,
         started: float, until: float | None, region_failures: list[Exception], home: str) -> InventoryResult:
    home_caller = _caller(session, home, options)  # reused for the home region's own listing
    regions_future = pool.submit(lambda: resolve_regions(session, options, home_caller))
    _wait([regions_future], until, lambda _f: None)
    if not regions_future.done():
        regions_future.cancel()
        region_failures.append(_DeadlinePassed(home, "listing the enabled regions", "ec2:DescribeRegions",
                                               float(options.deadline or 0)))
        regions = [home]
    else:
        try:
            regions = regions_future.result()
        except (PermissionGap, ApiFailure) as exc:  # cannot enumerate: list the home region, name the gap
            if isinstance(exc, ApiFailure) and exc.kind == REJECTED:
                raise NoCredentials(exc.message) from None
            region_failures.append(exc)
            regions = [home]
    prices = options.prices or load_prices()
    steps = _Steps(len(regions) * _REGION_STEPS + 1, progress)
    callers = {r: home_caller if r == home else _caller(session, r, options) for r in regions}
    dns_caller = _caller(session, "us-east-1", options)  # Route 53 is global, signed in us-east-1

    def dns_job() -> DnsData:
        d = collect.collect_dns(dns_caller)
        steps.tick()
        return d

    def region_job(region: str) -> Callable[[], _RegionResult]:
        return lambda: _region(callers[region], options.criteria, steps)

    # Route 53 first (one global job), then the regions, at most options.workers at once: the calls
    # wait on the network, not on our CPU, but each region's clients cost CPU to build.
    dns_future = pool.submit(dns_job)
    futures = {r: pool.submit(region_job(r)) for r in regions}
    by_future = {f: r for r, f in futures.items()}
    region_started = time.monotonic()

    def done(fut: Future[Any]) -> None:
        region = by_future.get(fut)
        if region is None or on_region is None or fut.exception() is not None:
            return
        data, rec, _sel, _idle = fut.result()
        missing = next((f.kind for f in data.failures if isinstance(f, ApiFailure) and f.ends_region), None)
        on_region(RegionSummary(region, time.monotonic() - region_started, len(rec.instances),
                                len(rec.elastic_ips), len(rec.load_balancers), len(data.failures), data.empty,
                                missing))

    _wait([dns_future, *futures.values()], until, done)

    gaps: list[Diagnostic] = [_gap(exc) for exc in region_failures]
    results: dict[str, _RegionResult] = {}
    deadline = float(options.deadline or 0)
    for region, fut in futures.items():
        if fut.done():
            results[region] = fut.result()  # NoCredentials (no credentials at all) propagates
            continue
        fut.cancel()
        gaps.append(_gap(_DeadlinePassed(region, f"region {region}", "*", deadline)))
        if on_region is not None:
            on_region(RegionSummary(region, time.monotonic() - region_started, missing="deadline"))
    if dns_future.done():
        dns = dns_future.result()
    else:
        dns_future.cancel()
        dns = DnsData()
        gaps.append(_gap(_DeadlinePassed("global", "Route 53", "route53:*", deadline)))

    # Every region and Route 53 rejected the credentials: they are no good at all (exit 4).
    rejected = [f for data, *_ in results.values() for f in data.failures
                if isinstance(f, ApiFailure) and f.kind == REJECTED]
    dns_rejected = [f for f in dns.failures if isinstance(f, ApiFailure) and f.kind == REJECTED]
    if results and len(results) == len(regions) and dns_rejected and {f.region for f in rejected} == set(regions):
        raise NoCredentials(dns_rejected[0].message)

    report = Report()
    records = Records()
    selected_total = 0
    empty: list[str] = []
    for region in regions:
        if region not in results:
            continue
        data, rec, selected, _idle = results[region]
        for failure in data.failures:
            gaps.append(_gap(failure))
        if data.empty:
            empty.append(region)
        records.merge(rec)
        selected_total += len(selected)
    for failure in dns.failures:
        gaps.append(_gap(failure))
    relate_dns(dns.zones, dns.records, records)

    findings = _findings(records, selected_total, options.criteria)
    priced_with = _prices(session, options, prices, regions, records, pool, until)
    prices = priced_with.prices
    findings += priced_with.findings
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
    doc["regions_empty"] = empty
    doc["run"] = {"seconds": round(time.monotonic() - started, 3), "deadline_seconds": options.deadline}
    return InventoryResult(doc, report, gaps)


def _prices(session: Any, options: Options, prices: Prices, regions: list[str], records: Records,
            pool: _Pool, until: float | None) -> Any:
    """The price table for these regions under --prices-from (the API asked within the deadline)."""
    from tinysquid.inventory import pricing

    types: dict[str, set[str]] = {}
    for inst in records.instances:
        if inst.get("type"):
            types.setdefault(inst["region"], set()).add(inst["type"])
    used = sorted({r["region"] for kind in (records.instances, records.elastic_ips, records.load_balancers)
                   for r in kind} | set(types))
    if options.prices_from != "api":
        return pricing.resolve(options.prices_from, prices, used, types, None)
    caller = _caller(session, pricing.API_REGION, replace(options, endpoint_url=options.pricing_endpoint_url
                                                          or options.endpoint_url, region_endpoints=()))
    fut = pool.submit(lambda: pricing.resolve("api", prices, used, types, caller))
    _wait([fut], until, lambda _f: None)
    if fut.done():
        return fut.result()
    fut.cancel()
    priced = pricing.resolve("auto", prices, used, types, None)
    priced.findings.insert(0, make("TS617", "Price List API not answered before the --deadline; cached or bundled "
                                   "prices used", source=SOURCE, subject="costs"))
    return priced


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


__all__ = ["InventoryResult", "NoCredentials", "Options", "RegionSummary", "check_credentials", "resolve_regions",
           "run_inventory"]
