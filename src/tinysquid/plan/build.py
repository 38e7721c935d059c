"""build_plan: read the inputs, look at the cluster, run the checks, and assemble the Plan.

Pure apart from reading its inputs (files, or the cluster through the kubernetes client): it
changes nothing anywhere and prints nothing; progress goes to the optional callback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinysquid.diagnostics import Diagnostic, InputError
from tinysquid.documents import Kind
from tinysquid.plan import checks as checks_mod
from tinysquid.plan import clients as clients_mod
from tinysquid.plan import egress as egress_mod
from tinysquid.plan import job as job_mod
from tinysquid.plan import phases as phases_mod
from tinysquid.plan.cluster import ClusterView
from tinysquid.plan.inputs import Inputs, get, load_document, load_yaml_mapping

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What the user asked for (paths as given)."""

    inventory: Path | None = None
    verify_report: Path | None = None
    values: Path | None = None
    config: Path | None = None
    context: str | None = None
    kubeconfig: str | None = None
    namespace: str = "squid"
    cluster_dump: Path | None = None
    strategy: phases_mod.Strategy = phases_mod.Strategy.ENV_SWITCH
    release: str = "squid"
    argv: tuple[str, ...] = ()  # the plan-cutover arguments as given, for the re-run commands
    chart: Path | None = None   # --chart DIR: render it in the preflight
    job_image: str | None = None  # the in-cluster verify Job's image (default tinysquid:VERSION)
    metrics_url: str | None = None  # --metrics-url: the squid-exporter's /metrics, checked with one GET


@dataclass
class Plan:
    """The runbook: inputs, checks, egress, clients, phases, and the findings behind them."""

    options: PlanOptions
    inputs: Inputs
    cluster: ClusterView | None
    checks: list[checks_mod.Check]
    egress: egress_mod.Egress
    clients: list[clients_mod.Client]
    phases: list[phases_mod.Phase]
    port: int
    port_source: str
    old_proxy: clients_mod.OldProxy
    gaps: list[Diagnostic] = field(default_factory=list)
    secret_refs: list[clients_mod.SecretRef] = field(default_factory=list)
    verify_job: dict[str, Any] | None = None  # the in-cluster verify Job manifest (phase 2.2)

    @property
    def blocking(self) -> list[checks_mod.Check]:
        """The checks that failed and block the cutover."""
        return [c for c in self.checks if c.blocking]

    @property
    def undecided(self) -> list[checks_mod.Check]:
        """The blocking checks nobody could decide (``unknown``): the plan is incomplete while any is."""
        return [c for c in self.checks if c.blocking_if_failed and c.status is checks_mod.Outcome.UNKNOWN]

    @property
    def verdict(self) -> str:
        """``blocked`` (a blocking check fails), ``incomplete`` (none fails, one is unknown) or
        ``ready`` (every blocking check passes). Only ``ready`` is exit 0."""
        if self.blocking:
            return "blocked"
        return "incomplete" if self.undecided or not self.checks else "ready"

    @property
    def risks(self) -> list[egress_mod.Risk]:
        """Egress and NAT risks."""
        return self.egress.risks


def _port(inputs: Inputs, squid: checks_mod.SquidInCluster | None) -> tuple[int, str]:
    """The squid Service port clients use: values, else the live Service, else tinyproxy's Port."""
    port = get(inputs.values, "service", "port")
    if port:
        return int(port), "values.yaml service.port"
    if squid is not None and squid.service is not None:
        ports = get(squid.service, "spec", "ports", default=[]) or []
        if ports and ports[0].get("port"):
            return int(ports[0]["port"]), f"Service {squid.namespace}/{squid.service['metadata']['name']}"
    if inputs.proxy is not None and inputs.proxy.port:
        return int(inputs.proxy.port), "tinyproxy Port (convert keeps it as the Service port)"
    return 3128, "chart default (no values, Service or config)"


def _target_port(values: Mapping[str, Any] | None, squid: checks_mod.SquidInCluster | None) -> int | None:
    """squid's container port: values ``service.targetPort``, else the live squid container's port."""
    port = get(values, "service", "targetPort")
    if isinstance(port, int):
        return port
    if squid is not None and squid.deployment is not None:
        for c in get(squid.deployment, "spec", "template", "spec", "containers", default=[]) or []:
            if c.get("name") == "squid":
                for p in c.get("ports") or []:
                    if isinstance(p.get("containerPort"), int):
                        return int(p["containerPort"])
    return None


def build_plan(opts: PlanOptions, *, progress: Callable[[str], None] | None = None) -> Plan:
    """Read every input given, decide the checks, find the clients, and lay out the phases.

    Raises:
        InputError: an input is missing, unreadable or malformed (the CLI exits 2).
    """
    from tinysquid.diagnostics.model import make
    from tinysquid.plan import cluster as cluster_mod
    from tinysquid.plan import proxyconf

    say = progress or (lambda _msg: None)
    if opts.cluster_dump is not None and opts.context is not None:
        raise InputError(make("TS004", "pass --context or --cluster-dump, not both", source="cli",
                              subject="--cluster-dump"))
    inputs = Inputs()
    if opts.inventory is not None:
        say("reading the inventory")
        inputs.inventory = load_document(opts.inventory, "inventory", Kind.INVENTORY, inputs)
    if opts.verify_report is not None:
        say("reading the verify report")
        inputs.verify = load_document(opts.verify_report, "verify-report", Kind.VERIFY_REPORT, inputs)
    if opts.values is not None:
        say("reading the values")
        inputs.values = load_yaml_mapping(opts.values, "values", inputs)
        inputs.values_path = str(opts.values)
    if opts.config is not None:
        say("converting the tinyproxy config")
        proxyconf.load_config(opts.config, inputs)
    if inputs.convert_findings is None and opts.values is not None:
        beside = Path(opts.values).with_name("report.json")
        if beside.is_file():
            proxyconf.load_convert_report(beside, inputs)

    cluster: ClusterView | None = None
    if opts.cluster_dump is not None:
        say("reading the cluster dump")
        cluster = cluster_mod.from_dump(opts.cluster_dump, inputs)
    elif opts.context is not None or opts.kubeconfig is not None:  # --kubeconfig alone: its current context
        cluster = cluster_mod.from_api(opts.context, opts.kubeconfig, progress=say)

    gaps: list[Diagnostic] = []
    if cluster is not None:
        for kind, why in cluster.gaps.items():
            gaps.append(make("TS740", f"{kind} not read: {why}", source="plan", subject=kind))

    say("running the checks")
    checks, squid = checks_mod.run_checks(inputs, cluster, opts.namespace, opts.release,
                                          str(opts.chart) if opts.chart else None, opts.metrics_url)
    port, port_source = _port(inputs, squid)
    eg = egress_mod.analyse(inputs)
    old = clients_mod.old_proxy(inputs.inventory)
    clients: list[clients_mod.Client] = []
    secret_refs: list[clients_mod.SecretRef] = []
    if cluster is not None:
        say("finding the clients of the old proxy")
        clients = clients_mod.discover(cluster, old, namespace=opts.namespace, port=port, release=opts.release)
        secret_refs = clients_mod.secret_proxy_refs(cluster)
    ctx = phases_mod.Context(
        namespace=opts.namespace, release=opts.release, port=port,
        values_path=str(opts.values) if opts.values else "values.yaml",
        config_path=str(opts.config) if opts.config else None, strategy=opts.strategy,
        inventory=inputs.inventory, checks=checks, clients=clients, egress=eg, plan_args=opts.argv, old_proxy=old,
        tinyproxy_port=inputs.proxy.port if inputs.proxy is not None else None,
        target_port=_target_port(inputs.values, squid),
        cluster_arg=(f"--cluster-dump {opts.cluster_dump}" if opts.cluster_dump else
                     f"--context {opts.context}" if opts.context else "--context <CONTEXT>"))
    ctx.job = _verify_job(opts, ctx)
    phases = phases_mod.build_phases(ctx)
    from tinysquid._version import __version__
    from tinysquid.plan.job import job_manifest

    return Plan(opts, inputs, cluster, checks, eg, clients, phases, port, port_source, old, gaps, secret_refs,
                job_manifest(ctx.job, version=__version__))


def _verify_job(opts: PlanOptions, ctx: phases_mod.Context) -> job_mod.JobPlan:
    """The in-cluster verify Job: the old proxy by its NLB (else its instances), squid by its Service,
    the probes from the config and convert's expect.json beside values.yaml."""
    from tinysquid._version import __version__

    olds = [f"http://{lb['dns_name']}:{phases_mod.legacy_port(ctx)}" for lb in phases_mod.inventory_items(ctx, "load_balancers")
            if lb.get("dns_name")]
    olds = olds or [f"http://{i['private_ip']}:{phases_mod.instance_port(ctx)}"
                    for i in phases_mod.inventory_items(ctx, "instances") if i.get("private_ip")]
    olds = olds[:1] or [f"http://<OLD_PROXY>:{phases_mod.legacy_port(ctx)}"]
    filter_name: str | None = None
    filter_local: Path | None = None
    if opts.config is not None:
        filter_name, filter_local = job_mod.filter_of(opts.config)
    expect = Path(ctx.values_path).with_name("expect.json")
    return job_mod.plan_job(namespace=opts.namespace, image=opts.job_image or f"tinysquid:{__version__}",
                            old=olds, new=clients_mod.squid_url(opts.namespace, ctx.port, opts.release),
                            config=opts.config, filter_name=filter_name, filter_local=filter_local, expect=expect,
                            config_required=True)


def plan_document(plan: Plan, *, version: str) -> dict[str, Any]:
    """The JSON document (``CutoverPlan``): apiVersion, kind, schema_version, generated_by, inputs (with sha256), checks, risks, clients,
    phases, plus the egress section and summary."""
    from tinysquid import documents

    o = plan.options
    return {
        **documents.header(documents.Kind.CUTOVER_PLAN),
        "generated_by": f"tinysquid {version}",
        "options": {"namespace": o.namespace, "release": o.release, "strategy": str(o.strategy),
                    "context": o.context, "cluster_source": plan.cluster.source if plan.cluster else None},
        "inputs": [f.record() for f in plan.inputs.files],
        "summary": {
            "verdict": plan.verdict,
            "blocking": len(plan.blocking),
            "undecided": [c.id for c in plan.undecided],
            "checks": {s: sum(str(c.status) == s for c in plan.checks) for s in ("pass", "fail", "unknown")},
            "clients": len(plan.clients),
            "risks": len(plan.risks),
            "squid_url": clients_mod.squid_url(o.namespace, plan.port, o.release),
            "squid_port_source": plan.port_source,
        },
        "checks": [c.record() for c in plan.checks],
        "risks": [r.record() for r in plan.risks],
        "egress": plan.egress.record(),
        "clients": [c.record() for c in plan.clients],
        "clients_unverified": [r.record() for r in plan.secret_refs],
        "old_proxy_identifiers": [{"identifier": k, "source": v} for k, v in sorted(plan.old_proxy.identifiers.items())],
        "phases": [p.record() for p in plan.phases],
        "gaps": [g.to_record() for g in plan.gaps],
        "verify_job": plan.verify_job,
    }
