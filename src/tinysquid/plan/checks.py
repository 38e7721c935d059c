"""Pre-flight checks: each decides ``pass``, ``fail`` or ``unknown`` from the inputs, with evidence.

A ``fail`` is *blocking* when proceeding would risk an outage or a security regression (exit 1).
``unknown`` is never a pass: ``decided_by`` names the input that would decide it. Checks on the
running squid read the cluster (API or dump); without it they fall back to the generated
values.yaml for what the values fix (PreferClose, PDB, exporter, grace period).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from tinysquid import documents
from tinysquid.diagnostics import Diagnostic
from tinysquid.diagnostics.model import make
from tinysquid.documents import Kind
from tinysquid.plan.cluster import ClusterView, meta, ref
from tinysquid.plan.inputs import Inputs, get, shutdown_lifetime

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
EXPORTER_NAME = "squid-exporter"
CLUSTER_INPUT = "--context or --cluster-dump"
K8S_DEFAULT_GRACE = 30  # PodSpec.terminationGracePeriodSeconds default


class Outcome(StrEnum):
    """The verdict of one check."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass
class Check:
    """One pre-flight check and its verdict."""

    id: str
    title: str
    code: str
    blocking_if_failed: bool
    status: Outcome = Outcome.UNKNOWN
    evidence: list[str] = field(default_factory=list)
    decided_by: str | None = None
    finding: Diagnostic | None = None

    @property
    def blocking(self) -> bool:
        """True when this check failed and failing it blocks the cutover."""
        return self.status is Outcome.FAIL and self.blocking_if_failed

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        rec: dict[str, Any] = {"id": self.id, "title": self.title, "status": str(self.status),
                               "blocking": self.blocking,
                               "blocking_if_failed": self.blocking_if_failed, "code": self.code, "evidence": list(self.evidence)}
        if self.decided_by:
            rec["decided_by"] = self.decided_by
        if self.finding is not None:
            rec["finding"] = self.finding.to_record()
        return rec


@dataclass
class SquidInCluster:
    """The squid objects found in the target namespace (any may be missing)."""

    namespace: str
    deployment: dict[str, Any] | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    service: dict[str, Any] | None = None
    configmap: dict[str, Any] | None = None
    endpoints: list[Mapping[str, Any]] = field(default_factory=list)  # of the Service's EndpointSlices


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any] | None) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; an empty selector matches
    nothing here (k8s: a PDB with an empty selector matches every pod, which is not squid-specific)."""
    if not selector:
        return False
    labels = labels or {}
    ml = selector.get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in ml.items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, vals = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return bool(ml or selector.get("matchExpressions"))


def find_squid(cluster: ClusterView, namespace: str, release: str = "squid") -> SquidInCluster:
    """The squid Deployment (named after the release, or labelled app.kubernetes.io/name=squid),
    its pods (through ReplicaSet ownerReferences, else the selector), Service and ConfigMap."""
    found = SquidInCluster(namespace)
    deps = cluster.in_namespace("Deployment", namespace)
    by_name = [d for d in deps if meta(d).get("name") == release]
    by_label = [d for d in deps if (meta(d).get("labels") or {}).get("app.kubernetes.io/name") == "squid"]
    found.deployment = next(iter(by_name or by_label), None)
    if found.deployment is None:
        return found
    dep_name = meta(found.deployment).get("name")
    rs_names = {meta(rs).get("name") for rs in cluster.in_namespace("ReplicaSet", namespace)
                if any(o.get("kind") == "Deployment" and o.get("name") == dep_name
                       for o in meta(rs).get("ownerReferences") or [])}
    selector = get(found.deployment, "spec", "selector")
    for pod in cluster.in_namespace("Pod", namespace):
        owners = meta(pod).get("ownerReferences") or []
        owned = any(o.get("kind") == "ReplicaSet" and o.get("name") in rs_names for o in owners)
        if owned or (not rs_names and selector_matches(selector, meta(pod).get("labels"))):
            found.pods.append(pod)
    pod_labels = get(found.deployment, "spec", "template", "metadata", "labels", default={})
    services = cluster.in_namespace("Service", namespace)
    svc = [s for s in services if meta(s).get("name") == dep_name]
    svc = svc or [s for s in services if get(s, "spec", "selector") and
                  all(pod_labels.get(k) == v for k, v in get(s, "spec", "selector").items())
                  and not meta(s).get("name", "").endswith("-metrics")]
    found.service = svc[0] if svc else None
    if found.service is not None:
        svc_name = meta(found.service).get("name")
        for eps in cluster.in_namespace("EndpointSlice", namespace):
            if (meta(eps).get("labels") or {}).get("kubernetes.io/service-name") == svc_name:
                found.endpoints.extend(e for e in eps.get("endpoints") or [] if isinstance(e, Mapping))
    cms = [c for c in cluster.in_namespace("ConfigMap", namespace) if "squid.conf" in (c.get("data") or {})]
    cm_named = [c for c in cms if meta(c).get("name") == f"{dep_name}-conf"]
    found.configmap = next(iter(cm_named or cms), None)
    return found


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in get(pod, "status", "conditions", default=[]) or [])


def _zone(node: Mapping[str, Any]) -> str | None:
    labels = meta(node).get("labels") or {}
    return next((labels[k] for k in ZONE_LABELS if labels.get(k)), None)


def _fail(check: Check, message: str, subject: str, **kw: Any) -> Check:
    check.status = Outcome.FAIL
    check.finding = make(check.code, message, source="plan", subject=subject, **kw)
    return check


def _unknown(check: Check, why: str, decided_by: str) -> Check:
    check.status = Outcome.UNKNOWN
    check.evidence.append(why)
    check.decided_by = decided_by
    return check


# --------------------------------------------------------------------------- the checks


def check_replicas(squid: SquidInCluster | None) -> Check:
    """The squid Deployment has ≥ 2 ready replicas."""
    c = Check("replicas", "squid Deployment has at least 2 ready replicas", "TS701", True)
    if squid is None:
        return _unknown(c, "no cluster input", CLUSTER_INPUT)
    if squid.deployment is None:
        c.finding = make("TS711", f"no squid Deployment in namespace {squid.namespace}", source="plan",
                         subject=f"namespace {squid.namespace}")
        return _unknown(c, f"no squid Deployment in namespace {squid.namespace} (not deployed yet?)",
                        f"{CLUSTER_INPUT} after phase 1")
    dep = squid.deployment
    ready = int(get(dep, "status", "readyReplicas", default=0) or 0)
    wanted = get(dep, "spec", "replicas", default=1)
    c.evidence.append(f"{ref(dep)}: spec.replicas={wanted}, status.readyReplicas={ready}")
    if ready >= 2:
        c.status = Outcome.PASS
        return c
    return _fail(c, f"{ref(dep)} has {ready} ready replica(s); at least 2 are needed", ref(dep))


def check_zones(squid: SquidInCluster | None, cluster: ClusterView | None) -> Check:
    """The ready squid pods run on nodes of ≥ 2 zones (the nodes' topology.kubernetes.io/zone)."""
    c = Check("zones", "ready squid pods span at least 2 availability zones", "TS702", True)
    if squid is None or cluster is None:
        return _unknown(c, "no cluster input", CLUSTER_INPUT)
    if squid.deployment is None:
        return _unknown(c, f"no squid Deployment in namespace {squid.namespace}", f"{CLUSTER_INPUT} after phase 1")
    if not cluster.has("Pod") or not cluster.has("Node"):
        missing = [k for k in ("Pod", "Node") if not cluster.has(k)]
        # Listing Nodes is often denied to namespace-scoped users; the EndpointSlice controller
        # copies each ready endpoint's zone into the slice (discovery.k8s.io/v1 Endpoint.zone).
        ready = [e for e in squid.endpoints if get(e, "conditions", "ready") is not False]
        if ready and any(e.get("zone") for e in ready):
            c.evidence.append(f"{' and '.join(missing)} not read; zones from the Service's EndpointSlices")
            return _decide_zones(c, squid, {f"endpoint {','.join(e.get('addresses') or [])}": e.get("zone")
                                            for e in ready})
        return _unknown(c, f"{' and '.join(missing)} objects not read ({cluster.source})",
                        f"{CLUSTER_INPUT} including pods and nodes")
    nodes = {meta(n).get("name"): n for n in cluster.nodes}
    zones: dict[str, list[str]] = {}
    for pod in squid.pods:
        if not _pod_ready(pod):
            c.evidence.append(f"{ref(pod)}: not Ready (not counted)")
            continue
        node_name = get(pod, "spec", "nodeName")
        node = nodes.get(node_name)
        zone = _zone(node) if node else None
        c.evidence.append(f"{ref(pod)} on node {node_name} in zone {zone or '(no zone label)'}")
        if zone:
            zones.setdefault(zone, []).append(cast(str, meta(pod).get("name")))
    return _decide_zones(c, squid, {}, zones)


def _decide_zones(c: Check, squid: SquidInCluster, where: Mapping[str, str | None],
                  zones: dict[str, list[str]] | None = None) -> Check:
    """Pass with ≥ 2 zones among ready members; ``where`` maps extra members to their zone."""
    zones = dict(zones or {})
    for member, zone in where.items():
        c.evidence.append(f"{member} in zone {zone or '(no zone)'}")
        if zone:
            zones.setdefault(zone, []).append(member)
    if len(zones) >= 2:
        c.status = Outcome.PASS
        return c
    place = f"zone {next(iter(zones))}" if zones else "no labelled zone"
    return _fail(c, f"all ready squid pods are in {place}", ref(squid.deployment or {}),
                 data={"zones": sorted(zones)})


PREFER_CLOSE = ("PreferClose", "PreferSameZone")  # PreferSameZone: the 1.34 name for the same hint


def check_traffic_distribution(squid: SquidInCluster | None, values: Mapping[str, Any] | None) -> Check:
    """The squid Service has ``trafficDistribution: PreferClose`` (cluster, else values.yaml)."""
    c = Check("traffic-distribution", "squid Service keeps traffic in-zone (trafficDistribution: PreferClose)",
              "TS703", True)
    if squid is not None and squid.service is not None:
        value = get(squid.service, "spec", "trafficDistribution")
        subject = ref(squid.service)
        c.evidence.append(f"{subject}: spec.trafficDistribution={value!r}")
        if squid.endpoints:
            # The control plane honours the field by writing zone hints into the EndpointSlices.
            hinted = sum(1 for e in squid.endpoints if get(e, "hints", "forZones"))
            c.evidence.append(f"EndpointSlices: {hinted}/{len(squid.endpoints)} endpoints carry zone hints")
    elif values is not None:
        value = get(values, "service", "trafficDistribution")
        subject = "values.yaml service.trafficDistribution"
        c.evidence.append(f"values.yaml: service.trafficDistribution={value!r}")
    else:
        why = "no squid Service in the cluster" if squid is not None else "no cluster input and no values"
        return _unknown(c, why, f"{CLUSTER_INPUT} or --values")
    if value in PREFER_CLOSE:
        c.status = Outcome.PASS
        return c
    return _fail(c, f"{subject} is {value!r}, not PreferClose", subject)


def check_pdb(squid: SquidInCluster | None, cluster: ClusterView | None,
              values: Mapping[str, Any] | None) -> Check:
    """A PodDisruptionBudget selects the squid pods (cluster, else values.yaml)."""
    c = Check("pdb", "a PodDisruptionBudget selects the squid pods", "TS704", True)
    if squid is not None and squid.deployment is not None and cluster is not None and cluster.has(
            "PodDisruptionBudget"):
        labels = get(squid.deployment, "spec", "template", "metadata", "labels", default={})
        pdbs = [p for p in cluster.in_namespace("PodDisruptionBudget", squid.namespace)
                if selector_matches(get(p, "spec", "selector"), labels)]
        for p in pdbs:
            spec = p.get("spec") or {}
            budget = {k: spec[k] for k in ("minAvailable", "maxUnavailable") if k in spec}
            c.evidence.append(f"{ref(p)} selects the squid pods ({budget or 'no budget'}), "
                              f"disruptionsAllowed={get(p, 'status', 'disruptionsAllowed')}")
        if pdbs:
            c.status = Outcome.PASS
            return c
        c.evidence.append(f"no PodDisruptionBudget in {squid.namespace} selects labels {labels}")
        return _fail(c, f"no PodDisruptionBudget selects {ref(squid.deployment)}", ref(squid.deployment))
    if values is not None:
        return _from_values_switch(c, values, "podDisruptionBudget", "the PodDisruptionBudget")
    return _unknown(c, "no squid Deployment and PDBs in the cluster input, no values", f"{CLUSTER_INPUT} or --values")


def _from_values_switch(c: Check, values: Mapping[str, Any], key: str, what: str) -> Check:
    """Decide ``c`` from the chart switch ``<key>.enabled`` in values.yaml (the chart's default is
    true) when the cluster input cannot."""
    enabled = get(values, key, "enabled", default=True)
    c.evidence.append(f"values.yaml: {key}.enabled={enabled!r}")
    if enabled:
        c.status = Outcome.PASS
        return c
    return _fail(c, f"values.yaml disables {what}", f"values.yaml {key}")


def check_exporter(squid: SquidInCluster | None, values: Mapping[str, Any] | None) -> Check:
    """The squid-exporter sidecar is in the squid pod template (cluster, else values.yaml)."""
    c = Check("exporter", "squid-exporter sidecar present (metrics for phase 4)", "TS705", False)
    if squid is not None and squid.deployment is not None:
        containers = get(squid.deployment, "spec", "template", "spec", "containers", default=[]) or []
        names = [f"{x.get('name')} ({x.get('image')})" for x in containers]
        c.evidence.append(f"{ref(squid.deployment)} containers: {', '.join(names) or 'none'}")
        if any(x.get("name") == EXPORTER_NAME or EXPORTER_NAME in str(x.get("image", "")) for x in containers):
            c.status = Outcome.PASS
            return c
        return _fail(c, f"{ref(squid.deployment)} has no {EXPORTER_NAME} container", ref(squid.deployment))
    if values is not None:
        return _from_values_switch(c, values, "squidExporter", "squidExporter")
    return _unknown(c, "no squid Deployment in the cluster input, no values", f"{CLUSTER_INPUT} or --values")


def check_grace(squid: SquidInCluster | None, values: Mapping[str, Any] | None) -> Check:
    """terminationGracePeriodSeconds > squid's shutdown_lifetime (else kubelet SIGKILLs mid-drain)."""
    c = Check("grace-period", "terminationGracePeriodSeconds exceeds squid's shutdown_lifetime", "TS706", True)
    if squid is not None and squid.deployment is not None:
        grace = get(squid.deployment, "spec", "template", "spec", "terminationGracePeriodSeconds")
        grace_src = f"{ref(squid.deployment)} terminationGracePeriodSeconds"
        if grace is None:
            grace, grace_src = K8S_DEFAULT_GRACE, f"{ref(squid.deployment)} (Kubernetes default)"
        if squid.configmap is not None:
            conf = (squid.configmap.get("data") or {}).get("squid.conf", "")
            lifetime, how = shutdown_lifetime(conf, values)
            life_src = f"{ref(squid.configmap)}: {how}"
        elif values is not None:
            lifetime, how = shutdown_lifetime(get(values, "config", "squid.conf", default="") or "", values)
            life_src = f"values.yaml: {how}"
        else:
            return _unknown(c, f"{grace_src}={grace}; squid.conf not found", "the squid ConfigMap or --values")
    elif values is not None:
        grace = get(values, "terminationGracePeriodSeconds", default=60)  # chart default 60
        grace_src = "values.yaml terminationGracePeriodSeconds"
        lifetime, how = shutdown_lifetime(get(values, "config", "squid.conf", default="") or "", values)
        life_src = f"values.yaml: {how}"
    else:
        return _unknown(c, "no squid Deployment in the cluster input, no values", f"{CLUSTER_INPUT} or --values")
    grace = int(grace)
    c.evidence.append(f"{grace_src}={grace}")
    c.evidence.append(f"shutdown_lifetime={lifetime}s from {life_src}")
    if grace > lifetime:
        if grace < lifetime + 10:
            # The chart's preStop hook sleeps squidShutdownTimeout + 10 s (deployment.yaml).
            c.evidence.append(f"note: the chart's preStop sleeps {lifetime + 10}s, longer than the grace period")
        c.status = Outcome.PASS
        return c
    return _fail(c, f"grace period {grace}s is not greater than shutdown_lifetime {lifetime}s", grace_src,
                 data={"grace_seconds": grace, "shutdown_lifetime_seconds": lifetime})


def _probe_line(p: Mapping[str, Any]) -> str:
    what = p.get("request") or p.get("target") or " ".join(
        str(x) for x in (p.get("method"), p.get("url") or p.get("host"), p.get("port")) if x)
    # verify records ``old`` as a list of answers (one per --old proxy) and ``new`` as one answer.
    old, new = p.get("old"), p.get("new")
    olds = old if isinstance(old, list) else [old] if old else []
    old = "/".join(str(a.get("class") if isinstance(a, Mapping) else a) for a in olds) or None
    new = new.get("class") if isinstance(new, Mapping) else new
    tail = f" (old {old}, new {new})" if old or new else ""
    why = f" — {p['why']}" if p.get("why") else ""
    return f"{p.get('result', '?')}: {what or p.get('id', '?')}{tail}{why}"


MAX_LISTED = 20


def _declared(report: documents.VerifyReport, probes: list[Mapping[str, Any]],
              expect_path: str | None) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], list[str]]:
    """Re-check declared differences against the expectation file (``expect.json`` beside the values,
    else the entries the verify report embeds): (intended, claimed-but-undeclared, evidence).
    A probe is intended only if an entry declares it; no entry can declare a widening."""
    from tinysquid import expectations

    notes: list[str] = []
    exp = None
    try:
        if expect_path is not None:
            exp = expectations.load(expect_path)
        elif report.expect is not None:
            exp = expectations.parse({"schema_version": expectations.SCHEMA_VERSION, "kind": expectations.KIND,
                                      "entries": report.expect.get("entries")}, "the verify report's expect")
    except expectations.ExpectationError as exc:
        notes.append(f"expectations ignored: {exc}")
    intended, undeclared = [], []
    for p in probes:
        if p.get("result") not in ("narrowed", "changed", "intended"):
            continue
        entry = exp.find_record(p) if exp is not None else None
        if entry is not None:
            intended.append(p)
        elif p.get("result") == "intended":
            undeclared.append(p)
    if exp is not None:
        notes.append(f"expectations: {exp.path} ({len(exp.entries)} entries), {len(intended)} probe(s) intended")
    return intended, undeclared, notes


def check_verify(report: documents.VerifyReport | Mapping[str, Any] | None, path: str | None,
                 expect_path: str | None = None) -> tuple[Check, Check]:
    """The verify report has zero widened and zero narrowed (blocking); noisy/changed/errors listed.
    Narrowing declared in the expectation file (``intended``) does not block.

    ``report`` is read through its model (a decoded document is checked first: TS008/TS009)."""
    c = Check("verify", "tinysquid verify: zero widened and zero narrowed probes", "TS707", True)
    n = Check("verify-noise", "tinysquid verify: noisy, changed and error probes reviewed", "TS709", False)
    if report is None:
        _unknown(n, "no verify report", "--verify-report")
        return _unknown(c, "no verify report", "--verify-report"), n
    doc = (report if isinstance(report, documents.VerifyReport)
           else documents.parse(report, documents.Kind.VERIFY_REPORT, where=str(path)))
    counts = {k: int(getattr(doc.summary, k)) for k in ("total", "agree", "widened", "narrowed", "changed",
                                                         "noisy", "errors")}
    c.evidence.append(f"{path}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    probes = [p for p in doc.probes if isinstance(p, Mapping)]
    intended, undeclared, notes = _declared(doc, probes, expect_path)
    c.evidence.extend(notes)
    declared = {id(p) for p in intended}
    counts["narrowed"] += len(undeclared) - sum(p.get("result") == "narrowed" for p in intended)
    counts["changed"] -= sum(p.get("result") == "changed" for p in intended)
    bad = [p for p in probes if p.get("result") in ("widened", "narrowed") and id(p) not in declared] + undeclared
    c.evidence.extend(_probe_line(p) for p in bad[:MAX_LISTED])
    c.evidence.extend(f"intended (declared): {_probe_line(p)}" for p in intended[:MAX_LISTED])
    if len(bad) > MAX_LISTED:
        c.evidence.append(f"… and {len(bad) - MAX_LISTED} more")
    if counts["total"] == 0:
        c.status = Outcome.UNKNOWN
        c.evidence.append("the report has no probes")
        c.decided_by = "--verify-report of a run with probes"
    elif counts["widened"] or counts["narrowed"]:
        code = "TS707" if counts["widened"] else "TS708"
        c.code = code
        c.status = Outcome.FAIL
        c.finding = make(code, f"verify: {counts['widened']} widened, {counts['narrowed']} narrowed",
                         source="plan", subject=str(path), data={"widened": counts["widened"],
                                                                  "narrowed": counts["narrowed"]})
    elif not doc.complete:
        # A run stopped at its deadline proves nothing about the probes it did not reach.
        c.status = Outcome.UNKNOWN
        c.evidence.append("the verify run did not complete (deadline hit): the rest was never probed")
        c.decided_by = "--verify-report of a complete run (raise verify --deadline)"
    else:
        c.status = Outcome.PASS
    other = [p for p in probes if p.get("result") in ("noisy", "changed", "error", "errors") and id(p) not in declared]
    n.evidence.append(f"noisy={counts['noisy']}, changed={counts['changed']}, errors={counts['errors']}")
    n.evidence.extend(_probe_line(p) for p in other[:MAX_LISTED])
    if len(other) > MAX_LISTED:
        n.evidence.append(f"… and {len(other) - MAX_LISTED} more")
    if counts["noisy"] or counts["changed"] or counts["errors"]:
        n.status = Outcome.FAIL
        n.finding = make("TS709", f"verify: {counts['noisy']} noisy, {counts['changed']} changed, "
                         f"{counts['errors']} error probes to review", source="plan", subject=str(path))
    elif counts["total"]:
        n.status = Outcome.PASS
    else:
        _unknown(n, "the report has no probes", "--verify-report of a run with probes")
    return c, n


def check_convert(inputs: Inputs) -> Check:
    """convert's findings whose status is not ``exact``, each with its line (informational)."""
    c = Check("convert", "every tinyproxy line carried over exactly (else listed)", "TS710", False)
    if inputs.convert_findings is None:
        why = ("the tinyproxy front end is not available in this build" if inputs.config_path
               else "no tinyproxy config and no convert report")
        return _unknown(c, why, "--config tinyproxy.conf (or report.json next to --values)")
    findings = inputs.convert_findings
    c.evidence.append(f"{inputs.convert_source}: {len(findings)} line(s) not exact")
    for f in findings[:MAX_LISTED * 2]:
        where = f"{f.get('file')}:{f.get('line')}" if f.get("file") else f.get("subject", "-")
        reviewed = " (ignored: reviewed)" if f.get("ignored") else ""
        c.evidence.append(f"{where}: {f.get('status')}{reviewed} {f.get('code')} {f.get('message')}")
    if len(findings) > MAX_LISTED * 2:
        c.evidence.append(f"… and {len(findings) - MAX_LISTED * 2} more (see report.md)")
    # Hardening is deliberate narrowing chosen by the tool, and an ignored finding was reviewed
    # (Report.exit_code treats both the same way under --strict).
    open_ = sum(f.get("status") != "hardening" and not f.get("ignored") for f in findings)
    if open_:
        return _fail(c, f"{open_} line(s) not carried over exactly", inputs.convert_source or "convert")
    c.status = Outcome.PASS
    return c


def run_checks(inputs: Inputs, cluster: ClusterView | None, namespace: str,
               release: str = "squid", chart: str | None = None,
               metrics_url: str | None = None) -> tuple[list[Check], SquidInCluster | None]:
    """Every pre-flight check, in runbook order, and the squid objects they looked at."""
    squid = find_squid(cluster, namespace, release) if cluster is not None else None
    beside = Path(inputs.values_path).with_name("expect.json") if inputs.values_path else None
    verify, noise = check_verify(inputs.models.get(Kind.VERIFY_REPORT), next((f.path for f in inputs.files if f.role == "verify-report"),
                                                     None), str(beside) if beside and beside.is_file() else None)
    checks = [
        check_replicas(squid),
        check_zones(squid, cluster),
        check_traffic_distribution(squid, inputs.values),
        check_pdb(squid, cluster, inputs.values),
        check_exporter(squid, inputs.values),
        check_grace(squid, inputs.values),
        verify,
        noise,
        check_convert(inputs),
    ]
    rendered = check_chart_render(chart, inputs.values_path, namespace, release)
    if rendered is not None:
        checks.append(rendered)
    metrics = check_metrics(metrics_url)
    if metrics is not None:
        checks.insert(checks.index(next(c for c in checks if c.id == "exporter")) + 1, metrics)
    for c in checks:
        if c.status is Outcome.UNKNOWN and c.finding is None:
            c.finding = make("TS700", f"{c.title}: unknown ({'; '.join(c.evidence)})", source="plan",
                             subject=c.id, hint=f"decided by {c.decided_by}" if c.decided_by else None)
    return checks, squid


METRICS_LIMIT = 4 * 1024 * 1024  # bytes of a /metrics page read at most
METRICS_TIMEOUT = 5.0  # seconds for the whole answer


def check_metrics(url: str | None) -> Check | None:
    """``--metrics-url``: the squid-exporter answers on its /metrics with squid's own samples (a
    Prometheus text page with ``squid_…`` lines), so phase 4 has something to watch. None without a URL.

    One GET with httpx: no proxy from the environment (HTTP_PROXY may well be the old proxy), no
    redirects, bounded in time and size."""
    if url is None:
        return None
    import httpx

    c = Check("exporter-metrics", "squid-exporter answers on /metrics with squid metrics", "TS715", False)
    c.decided_by = "--metrics-url"
    body = b""
    try:
        with httpx.Client(trust_env=False, follow_redirects=False, timeout=METRICS_TIMEOUT) as client, \
                client.stream("GET", url, headers={"Accept": "text/plain"}) as resp:
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > METRICS_LIMIT:
                    break
            status = resp.status_code
    except httpx.InvalidURL as exc:
        return _fail(c, f"--metrics-url {url!r} is not a URL httpx can fetch: {exc}", url)
    except (httpx.HTTPError, OSError) as exc:
        c.evidence.append(f"GET {url}: {type(exc).__name__}: {exc}")
        return _fail(c, f"the exporter did not answer at {url} ({type(exc).__name__})", url)
    samples = [line for line in body[:METRICS_LIMIT].decode("utf-8", "replace").splitlines()
               if line.startswith("squid_")]
    c.evidence.append(f"GET {url}: HTTP {status}, {len(body)} bytes, {len(samples)} squid_ sample(s)"
                      + (f", e.g. {samples[0][:80]}" if samples else ""))
    if status != 200:
        return _fail(c, f"the exporter answered HTTP {status} at {url}", url)
    if not samples:
        return _fail(c, f"{url} answers but carries no squid_ metric (not the squid-exporter?)", url)
    c.status = Outcome.PASS
    return c


def check_chart_render(chart: str | None, values_path: str | None, namespace: str, release: str = "squid",
                       helm: str | None = None) -> Check | None:
    """``--chart DIR``: render the chart with the converted values and the post-renderer beside them,
    and check what convert's deploy outputs promise (TS345 render failed, TS346 something missing).

    None when no chart was given. Helm 3 runs ``post-renderer/post-render``; Helm 4 needs it installed
    as the ``tinysquid-squid`` plugin (``helm plugin install``), else the check fails with that hint.
    """
    import shutil
    import subprocess
    from pathlib import Path

    import yaml

    from tinysquid.deploy import PLUGIN_NAME, POST_RENDERER_DIR

    limit = 1 << 20   # the API server's ConfigMap data limit (MaxSecretSize)

    if chart is None:
        return None
    c = Check("chart-render", "the chart renders with the converted values and the post-renderer", "TS345", True)
    c.decided_by = "--chart"
    if values_path is None:
        return _unknown(c, "--chart needs --values (the values.yaml convert wrote)", "--values")
    helm = helm or shutil.which("helm")
    if helm is None:
        return _unknown(c, "helm is not on PATH", "helm")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, check=False)

    version = run("version", "--short").stdout.strip()
    post = str(Path(values_path).parent / POST_RENDERER_DIR / "post-render")
    if not version.startswith("v3"):
        if PLUGIN_NAME not in run("plugin", "list").stdout:
            c.code = "TS346"
            return _fail(c, f"{version or 'helm'}: the post-renderer plugin {PLUGIN_NAME} is not installed",
                         c.id, hint=f"helm plugin install {Path(post).parent}")
        post = PLUGIN_NAME
    done = run("template", release, chart, "-n", namespace, "-f", values_path, "--post-renderer", post)
    c.evidence.append(f"helm {version} template {release} {chart} -f {values_path} --post-renderer {post}")
    if done.returncode != 0:
        msg = (done.stderr.strip().splitlines() or ["no message"])[-1]
        c.evidence.append(msg)
        return _fail(c, f"helm template failed: {msg}", c.id)
    docs = [d for d in yaml.safe_load_all(done.stdout) if isinstance(d, dict)]
    problems = deploy_problems(docs)
    for cm in (d for d in docs if d.get("kind") == "ConfigMap"):
        n = sum(len(str(v).encode()) for v in (cm.get("data") or {}).values())
        if n > limit:
            problems.append(f"ConfigMap {cm['metadata']['name']} is {n:,} B, over the 1 MiB limit")
    if problems:
        c.evidence.extend(problems)
        c.code = "TS346"
        return _fail(c, "; ".join(problems), c.id)
    c.evidence.append(f"{len(docs)} objects; preStop drains first, passwd mounted where squid needs it, "
                      "spread counts only this release")
    c.status = Outcome.PASS
    return c


def deploy_problems(docs: list[dict[str, Any]]) -> list[str]:
    """What a rendered release misses of convert's deploy promises (empty: none)."""
    deps = [d for d in docs if d.get("kind") == "Deployment"
            and (d.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name") == "squid"]
    if len(deps) != 1:
        return [f"{len(deps)} Deployments labelled app.kubernetes.io/name=squid (expected 1)"]
    pod = deps[0].get("spec", {}).get("template", {}).get("spec", {})
    instance = (deps[0].get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}).get(
        "app.kubernetes.io/instance")
    squid: dict[str, Any] = next((x for x in pod.get("containers") or [] if x.get("name") == "squid"), {})
    problems = []
    cmd = (((squid.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
    script = str(cmd[-1]) if cmd else ""
    if not script.lstrip().startswith("sleep") or "squid -k shutdown" not in script:
        problems.append("the preStop hook does not sleep before squid -k shutdown")
    confs = [str((d.get("data") or {}).get("squid.conf", "")) for d in docs if d.get("kind") == "ConfigMap"]
    mounts = squid.get("volumeMounts") or []
    if (any("basic_ncsa_auth" in conf for conf in confs)
            and not any(m.get("mountPath") == "/etc/squid/passwd" for m in mounts)):
        problems.append("squid uses BasicAuth but /etc/squid/passwd is not mounted")
    for tsc in pod.get("topologySpreadConstraints") or []:
        labels = ((tsc.get("labelSelector") or {}).get("matchLabels") or {})
        if labels.get("app.kubernetes.io/instance") != instance and "pod-template-hash" not in (
                tsc.get("matchLabelKeys") or []):
            problems.append("a topology spread constraint counts other releases' pods")
    return problems
