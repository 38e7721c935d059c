"""The runbook's phases 0–5, each step with what, command, the check that proves it, and rollback.

Commands are printed, never run. Their arguments come from the inputs (inventory ARNs and ids,
values path, namespace, clients); where an input is missing the command keeps a ``<PLACEHOLDER>``
and says which input fills it. Strategy semantics for phase 3 (research anchors §5.3): NLB weighted
target groups (ModifyListener forward with several TGs, weights 0–999); Route 53 weighted records
(weight 0 keeps the record for rollback; the TTL bounds how fast clients follow).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from tinysquid.plan.checks import Check, Outcome
from tinysquid.plan.clients import Client, OldProxy, squid_url
from tinysquid.plan.egress import Egress, added_cost, saving
from tinysquid.plan.job import INPUTS, JOB_NAME, JobPlan, create_inputs_command

CHART = "oci://ghcr.io/younsl/charts/squid"
CHART_VERSION = "0.9.0"  # the chart line convert's values target (helm/chart_keys.py)
NLB_WEIGHTS = (10, 50, 100)
PAUSE_MINUTES = 30
NOTHING = "# nothing to roll back"


class Strategy(StrEnum):
    """How traffic moves from the old proxy to squid in phase 3."""

    ENV_SWITCH = "env-switch"
    NLB_WEIGHTED = "nlb-weighted"
    DNS_WEIGHTED = "dns-weighted"


@dataclass
class Step:
    """One runbook step."""

    id: str
    what: str
    command: list[str] = field(default_factory=list)
    check: str = ""
    rollback: list[str] = field(default_factory=list)
    gate: str | None = None
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        rec: dict[str, Any] = {"id": self.id, "what": self.what, "command": list(self.command),
                               "check": self.check, "rollback": list(self.rollback)}
        if self.gate:
            rec["gate"] = self.gate
        if self.notes:
            rec["notes"] = list(self.notes)
        return rec


@dataclass
class Phase:
    """One numbered phase."""

    number: int
    title: str
    steps: list[Step] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"number": self.number, "title": self.title, "steps": [s.record() for s in self.steps]}


@dataclass
class Context:
    """What the phase builders need."""

    namespace: str
    release: str
    port: int
    values_path: str
    config_path: str | None
    strategy: Strategy
    inventory: Mapping[str, Any] | None
    checks: list[Check]
    clients: list[Client]
    egress: Egress
    chart_version: str = CHART_VERSION
    plan_args: tuple[str, ...] = ()
    old_proxy: OldProxy | None = None
    cluster_arg: str = "--context <CONTEXT>"
    tinyproxy_port: int | None = None
    target_port: int | None = None  # squid's container port (values service.targetPort)
    job: JobPlan | None = None  # the in-cluster verify Job (step 2.2)


def _q(s: str) -> str:
    return shlex.quote(s)


def inventory_items(ctx: Context, key: str) -> list[Mapping[str, Any]]:
    """The inventory's ``key`` list (mappings only; empty without an inventory)."""
    return _inv(ctx, key)


def _inv(ctx: Context, key: str) -> list[Mapping[str, Any]]:
    items = (ctx.inventory or {}).get(key) or []
    return [i for i in items if isinstance(i, Mapping)]


def legacy_port(ctx: Context) -> str:
    """The port clients use on the old proxy (NLB listener, else target group, else placeholder)."""
    for key in ("listeners", "target_groups"):
        for item in _inv(ctx, key):
            if item.get("port"):
                return str(item["port"])
    return "<TINYPROXY_PORT>"


def instance_port(ctx: Context) -> str:
    """The port tinyproxy listens on at the instances: its config, else the target group's target
    port (an NLB listener may listen on another port than its targets), else the listener's."""
    if ctx.tinyproxy_port:
        return str(ctx.tinyproxy_port)
    for tg in _inv(ctx, "target_groups"):
        for target in tg.get("targets") or []:
            if isinstance(target, Mapping) and target.get("port"):
                return str(target["port"])
        if tg.get("port"):
            return str(tg["port"])
    return legacy_port(ctx)


def _region_flag(item: Mapping[str, Any]) -> str:
    return f" --region {_q(str(item['region']))}" if item.get("region") else ""


# --------------------------------------------------------------------------- phase 0


def phase_preflight(ctx: Context) -> Phase:
    """Phase 0: the checks, re-run; every blocking failure is a step that must be fixed first."""
    p = Phase(0, "Pre-flight")
    rerun = ["tinysquid plan-cutover " + " ".join(_plan_args(ctx)) + f" {ctx.cluster_arg} -o json --out plan.json"]
    p.steps.append(Step("0.1", "Re-run the plan and confirm no blocking check fails", rerun,
                        "the command exits 0 (1 = a blocking check fails, 4 = a blocking check is still unknown)", [NOTHING]))
    for c in ctx.checks:
        if c.status is Outcome.PASS:
            continue
        what = f"{'Fix' if c.status is Outcome.FAIL else 'Decide'}: {c.title}"
        hint = c.finding.hint if c.finding is not None and c.finding.hint else ""
        p.steps.append(Step(f"0.{len(p.steps) + 1}", what, [f"# {hint}"] if hint else [],
                            f"check `{c.id}` reports pass" + (" (blocking)" if c.blocking_if_failed else ""),
                            [NOTHING],
                            gate="must pass before phase 1" if c.blocking else None,
                            notes=[*c.evidence, *([f"decided by {c.decided_by}"] if c.decided_by else [])]))
    return p


def _plan_args(ctx: Context) -> list[str]:
    if ctx.plan_args:
        return [_q(a) for a in ctx.plan_args]
    args = []
    if ctx.inventory is not None:
        args += ["--inventory", "inventory.json"]
    args += ["--verify-report", "verify.json", "--values", _q(ctx.values_path)]
    if ctx.config_path:
        args += ["--config", _q(ctx.config_path)]
    args += ["--namespace", _q(ctx.namespace), "--strategy", str(ctx.strategy)]
    return args


# --------------------------------------------------------------------------- phase 1


def phase_deploy(ctx: Context) -> Phase:
    """Phase 1: helm upgrade --install with the generated values."""
    p = Phase(1, "Deploy squid")
    ns, rel = _q(ctx.namespace), _q(ctx.release)
    p.steps.append(Step(
        "1.1", f"Install squid (chart {ctx.chart_version}) with the generated values",
        [f"helm upgrade --install {rel} {CHART} --version {ctx.chart_version} -n {ns} --create-namespace "
         f"-f {_q(ctx.values_path)} --wait --timeout 10m"],
        f"kubectl rollout status deployment/{rel} -n {ns} --timeout=10m && kubectl get pods -n {ns} "
        f"-l app.kubernetes.io/name=squid -o wide  # ≥ 2 Ready pods on nodes of ≥ 2 zones",
        [f"helm rollback {rel} -n {ns}  # the previous revision; first install: helm uninstall {rel} -n {ns}"]))
    p.steps.append(Step(
        "1.2", "Re-run the plan against the live cluster (replicas, zones, PDB, exporter, grace period)",
        ["tinysquid plan-cutover " + " ".join(_plan_args(ctx)) + " --context <CONTEXT>"],
        "exit code 0", [NOTHING], gate="no blocking check fails"))
    return p


# --------------------------------------------------------------------------- phase 2


def phase_verify(ctx: Context) -> Phase:
    """Phase 2: tinysquid verify, old proxies side by side with squid (reached by port-forward)."""
    p = Phase(2, "Verify decisions side by side")
    olds = [f"http://{i['private_ip']}:{instance_port(ctx)}" for i in _inv(ctx, "instances") if i.get("private_ip")]
    if not olds:
        olds = [f"http://{lb['dns_name']}:{legacy_port(ctx)}" for lb in _inv(ctx, "load_balancers")
                if lb.get("dns_name")]
    olds = olds or [f"http://<OLD_PROXY>:{instance_port(ctx)}"]
    local = 13128
    verify = ["tinysquid", "verify", *(arg for o in olds for arg in ("--old", o)), "--new", f"http://127.0.0.1:{local}"]
    if ctx.config_path:
        verify += ["--config", ctx.config_path]
    # the differences convert intends (hardening, --tighten) are declared beside values.yaml
    expect = str(PurePosixPath(ctx.values_path).with_name("expect.json"))
    verify += ["--expect", expect, "--report", "verify.json"]
    p.steps.append(Step(
        "2.1", "Compare the decisions of the old proxies and squid"
               + (" (two old proxies: disagreements between them are noise)" if len(olds) > 1 else ""),
        [f"kubectl port-forward -n {_q(ctx.namespace)} svc/{_q(ctx.release)} {local}:{ctx.port} &",
         " ".join(_q(a) for a in verify)],
        f"verify exits 0 and verify.json has widened=0, narrowed=0 (a narrowing {expect} declares counts "
        "as intended)",
        ["# nothing to roll back (verify sends no request bodies; CONNECT probes close after the status line)"],
        gate="0 widened, 0 narrowed",
        notes=["run from a host that reaches the old proxies' private IPs (same VPC)",
               "then re-run plan-cutover with --verify-report verify.json"]))
    if ctx.job is not None:
        ns = _q(ctx.namespace)
        p.steps.append(Step(
            "2.2", "Verify from inside the cluster: the same probes from a pod, through the squid Service "
                   "and the old proxy",
            [create_inputs_command(ctx.job),
             "kubectl apply -f verify-job.yaml   # the Job below (or: tinysquid verify … --print-job)",
             f"kubectl wait -n {ns} --for=condition=complete --timeout={int(ctx.job.deadline) + 180}s "
             f"job/{JOB_NAME}",
             f"kubectl logs -n {ns} job/{JOB_NAME} > verify-in-cluster.json"],
            f"job/{JOB_NAME} completes (verify exited 0) and verify-in-cluster.json has widened=0, narrowed=0; "
            f"if it failed, `kubectl describe pod -n {ns} -l job-name={JOB_NAME}` shows verify's findings",
            [f"kubectl delete job -n {ns} {JOB_NAME}"]
            + ([f"kubectl delete configmap -n {ns} {INPUTS}"] if ctx.job.files else []),
            gate="0 widened, 0 narrowed",
            notes=["the image is the repository's Dockerfile: build and push it, then set it in the Job "
                   "(plan-cutover --job-image)",
                   "the pod reaches squid by its ClusterIP Service, as the clients will; the old proxy's "
                   "NLB must accept the pods' source addresses",
                   "re-run plan-cutover with --verify-report verify-in-cluster.json"]))
    return p


# --------------------------------------------------------------------------- phase 3


def _waves(clients: list[Client]) -> list[tuple[str, list[Client]]]:
    by_ns: dict[str, list[Client]] = {}
    for c in clients:
        by_ns.setdefault(c.namespace, []).append(c)
    if not by_ns:
        return []
    # The pilot wave is the namespace with the fewest clients (smallest blast radius).
    order = sorted(by_ns, key=lambda ns: (len(by_ns[ns]), ns))
    return [(ns, by_ns[ns]) for ns in order]


def phase_shift(ctx: Context) -> Phase:
    """Phase 3: move the clients by the chosen strategy."""
    p = Phase(3, f"Shift traffic ({ctx.strategy})")
    if ctx.strategy is Strategy.ENV_SWITCH:
        _env_switch(ctx, p)
    elif ctx.strategy is Strategy.NLB_WEIGHTED:
        _nlb_weighted(ctx, p)
    else:
        _dns_weighted(ctx, p)
    return p


def _client_steps(p: Phase, ctx: Context, prefix: str, wave: list[Client]) -> None:
    for c in wave:
        changes = ", ".join(f"{ch.name}" for ch in c.changes)
        what = (f"Switch {c.ref} ({changes}) to {squid_url(ctx.namespace, ctx.port, ctx.release)}"
                if c.commands else f"Let {c.ref} finish on the old proxy ({changes}): it cannot be patched")
        p.steps.append(Step(f"{prefix}.{len(p.steps) + 1}", what,
                            list(c.commands) or ["# no command: see notes"], c.check or "see notes",
                            list(c.rollback) or [NOTHING], notes=list(c.notes)))


def _env_switch(ctx: Context, p: Phase) -> None:
    waves = _waves(ctx.clients)
    if not waves:
        p.steps.append(Step("3.1", "No client of the old proxy was found in the cluster input",
                            ["# re-run plan-cutover with --context (or a --cluster-dump of every namespace)"],
                            "the Clients section lists every workload you expect", [NOTHING],
                            notes=["clients outside Kubernetes (EC2, Lambda, on-prem) are not discovered: "
                                   "check the old proxies' logs in phase 4"]))
        return
    for n, (ns, wave) in enumerate(waves, 1):
        label = "pilot wave" if n == 1 else f"wave {n}"
        p.steps.append(Step(f"3.{len(p.steps) + 1}", f"Start {label}: namespace {ns} ({len(wave)} client(s))",
                            [], "previous wave observed for the pause window with no new errors",
                            ["# run this wave's rollbacks in reverse order"],
                            gate=None if n == 1 else f"{PAUSE_MINUTES} min after the previous wave: "
                            "squid_client_http_errors_total flat, no client errors"))
        _client_steps(p, ctx, "3", wave)


def _tg_for_squid(ctx: Context) -> str:
    return f"{ctx.release}-k8s"


def _split_followers(ctx: Context, follows: set[str]) -> tuple[list[Client], list[Client]]:
    """(clients that bypass the weighted path and must be switched first, clients that follow it)."""
    route = ctx.old_proxy.route if ctx.old_proxy is not None else (lambda _i: "direct")
    bypass = [c for c in ctx.clients if any(route(ch.matched) not in follows for ch in c.changes)]
    return bypass, [c for c in ctx.clients if c not in bypass]


def _bypass_steps(ctx: Context, p: Phase, bypass: list[Client], path: str) -> None:
    if not bypass:
        return
    p.steps.append(Step(f"3.{len(p.steps) + 1}", f"First switch the {len(bypass)} client(s) that bypass the {path}",
                        [], "each switch step's check", ["# run their rollbacks"],
                        notes=[f"they name an address the {path} weights do not move (an instance or Elastic IP, "
                               "or the NLB itself under DNS weights)"]))
    _client_steps(p, ctx, "3", bypass)


def _follower_steps(ctx: Context, p: Phase, followers: list[Client]) -> None:
    if not followers:
        return
    p.steps.append(Step(f"3.{len(p.steps) + 1}", f"At 100%: point the {len(followers)} in-cluster client(s) at "
                        "the squid Service directly", [], "each switch step's check", ["# run their rollbacks"],
                        gate="weights at 100% for the pause window",
                        notes=["they reach squid through the old path today; the old path is removed in phase 5"]))
    _client_steps(p, ctx, "3", followers)


def _nlb_weighted(ctx: Context, p: Phase) -> None:
    bypass, followers = _split_followers(ctx, {"nlb", "dns"})
    _bypass_steps(ctx, p, bypass, "NLB")
    listeners = _inv(ctx, "listeners")
    tgs = _inv(ctx, "target_groups")
    lst = listeners[0] if listeners else {}
    old_tg = (lst.get("target_groups") or [None])[0] if lst else None
    old_tg = old_tg or (tgs[0].get("arn") if tgs else None) or "<OLD_TARGET_GROUP_ARN>"
    listener_arn = _q(lst["arn"]) if lst.get("arn") else "<LISTENER_ARN>"
    region = _region_flag(lst or (tgs[0] if tgs else {}))
    vpc = _q(tgs[0]["vpc_id"]) if tgs and tgs[0].get("vpc_id") else "<VPC_ID>"
    new_tg = "<SQUID_TARGET_GROUP_ARN>"
    p.steps.append(Step(
        f"3.{len(p.steps) + 1}", "Create an ip target group for the squid pods and bind it (AWS Load Balancer Controller)",
        # ip targets are the pods themselves: the target group port is squid's container port.
        [f"aws elbv2 create-target-group{region} --name {_tg_for_squid(ctx)} --protocol TCP "
         f"--port {ctx.target_port or ctx.port} "
         f"--target-type ip --vpc-id {vpc} --query 'TargetGroups[0].TargetGroupArn' --output text",
         f"kubectl apply -n {_q(ctx.namespace)} -f - <<'EOF'\napiVersion: elbv2.k8s.aws/v1beta1\nkind: TargetGroupBinding\n"
         f"metadata:\n  name: {ctx.release}\nspec:\n  serviceRef:\n    name: {ctx.release}\n    port: {ctx.port}\n"
         f"  targetGroupARN: {new_tg}\n  targetType: ip\nEOF"],
        f"aws elbv2 describe-target-health{region} --target-group-arn {new_tg}  # every squid pod IP healthy",
        [f"kubectl delete targetgroupbinding {ctx.release} -n {_q(ctx.namespace)}",
         f"aws elbv2 delete-target-group{region} --target-group-arn {new_tg}"],
        notes=["ip targets do NOT preserve the client IP by default: enable preserve_client_ip.enabled on the "
               "new target group, or every src ACL converted from tinyproxy Allow sees the NLB's IPs",
               "the squid security group / NetworkPolicy must admit the client CIDRs then"]))
    for weight in NLB_WEIGHTS:
        action = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": old_tg, "Weight": 100 - weight}, {"TargetGroupArn": new_tg, "Weight": weight}]}}]
        back = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": old_tg, "Weight": 100}, {"TargetGroupArn": new_tg, "Weight": 0}]}}]
        p.steps.append(Step(
            f"3.{len(p.steps) + 1}", f"Send {weight}% of new connections to squid",
            [f"aws elbv2 modify-listener{region} --listener-arn {listener_arn} --default-actions "
             + _q(json.dumps(action, separators=(",", ":")))],
            f"aws elbv2 describe-listeners{region} --listener-arns {listener_arn} --query "
            "'Listeners[0].DefaultActions[0].ForwardConfig.TargetGroups'  # weights as set; "
            "squid_client_http_requests_total rises",
            [f"aws elbv2 modify-listener{region} --listener-arn {listener_arn} --default-actions "
             + _q(json.dumps(back, separators=(",", ":")))],
            gate=f"pause {PAUSE_MINUTES} min: no rise in squid_client_http_errors_total or client errors"
            if weight < 100 else None,
            notes=["weights apply to new connections; open tunnels stay on their target"]))
    _follower_steps(ctx, p, followers)


def _dns_weighted(ctx: Context, p: Phase) -> None:
    bypass, followers = _split_followers(ctx, {"dns"})
    _bypass_steps(ctx, p, bypass, "Route 53 record")
    records = [r for r in _inv(ctx, "dns_records") if r.get("name")]
    rec = records[0] if records else {}
    zone = _q(rec["zone_id"]) if rec.get("zone_id") else "<HOSTED_ZONE_ID>"
    name = rec.get("name") or "<PROXY_RECORD_NAME>"
    old_target = rec.get("value") or "<OLD_NLB_DNS_NAME>"
    new_target = "<SQUID_INTERNAL_NLB_DNS_NAME>"
    p.steps.append(Step(
        f"3.{len(p.steps) + 1}", "Expose squid on an internal NLB (Service type LoadBalancer) for clients outside the cluster",
        [f"helm upgrade {_q(ctx.release)} {CHART} --version {ctx.chart_version} -n {_q(ctx.namespace)} "
         f"-f {_q(ctx.values_path)} --reuse-values --set service.type=LoadBalancer "
         "--set-string 'service.annotations.service\\.beta\\.kubernetes\\.io/aws-load-balancer-scheme=internal'"],
        f"kubectl get svc {_q(ctx.release)} -n {_q(ctx.namespace)} -o jsonpath='{{.status.loadBalancer.ingress[0].hostname}}'",
        [f"helm rollback {_q(ctx.release)} -n {_q(ctx.namespace)}"],
        notes=["in-cluster clients are better switched with --strategy env-switch"]))
    for weight in NLB_WEIGHTS:
        batch = {"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "CNAME", "SetIdentifier": "legacy",
                                                       "Weight": 100 - weight, "TTL": 60,
                                                       "ResourceRecords": [{"Value": old_target}]}},
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "CNAME", "SetIdentifier": "squid",
                                                       "Weight": weight, "TTL": 60,
                                                       "ResourceRecords": [{"Value": new_target}]}}]}
        back = {"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "CNAME", "SetIdentifier": "legacy",
                                                       "Weight": 100, "TTL": 60,
                                                       "ResourceRecords": [{"Value": old_target}]}},
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "CNAME", "SetIdentifier": "squid",
                                                       "Weight": 0, "TTL": 60,
                                                       "ResourceRecords": [{"Value": new_target}]}}]}
        p.steps.append(Step(
            f"3.{len(p.steps) + 1}", f"Weight {weight}% of {name} to squid",
            [f"aws route53 change-resource-record-sets --hosted-zone-id {zone} --change-batch "
             + _q(json.dumps(batch, separators=(",", ":")))],
            f"aws route53 list-resource-record-sets --hosted-zone-id {zone} --query "
            + _q(f"ResourceRecordSets[?Name=='{name}.']") + "  # weights as set",
            [f"aws route53 change-resource-record-sets --hosted-zone-id {zone} --change-batch "
             + _q(json.dumps(back, separators=(",", ":")))],
            gate=f"pause {PAUSE_MINUTES} min + the record's TTL" if weight < 100 else None,
            notes=["TTL warning: clients follow only after the old TTL expires; JVMs may cache lookups for "
                   "much longer (networkaddress.cache.ttl) — expect stragglers on the old NLB",
                   "an existing simple record must first be replaced by the weighted pair (same TTL)"]))
    _follower_steps(ctx, p, followers)


# --------------------------------------------------------------------------- phase 4


METRICS = (
    ("squid_up", "1 on every pod"),
    ("rate(squid_client_http_requests_total[5m])", "rises as clients move"),
    ("rate(squid_client_http_errors_total[5m])", "flat"),
    ("rate(squid_server_all_errors_total[5m])", "flat (upstream failures, DNS)"),
    ("squid_info_Available_number_of_file_descriptors", "well above 0"),
    ("squid_HTTP_Requests_All_95", "close to the old proxy's latency"),
)


def _nlb_dimension(arn: str) -> str:
    return arn.split(":loadbalancer/", 1)[1] if ":loadbalancer/" in arn else "<net/NAME/ID>"


def phase_observe(ctx: Context) -> Phase:
    """Phase 4: squid-exporter metrics, NAT alarms, stragglers on the old NLB and instances."""
    p = Phase(4, "Observe")
    p.steps.append(Step(
        "4.1", "Watch the squid-exporter metrics (Prometheus)",
        [f"# {m}  → {expect}" for m, expect in METRICS],
        "every metric within its expectation for the observation window",
        ["# run the rollback of the last phase-3 step"]))
    lbs = _inv(ctx, "load_balancers")
    cmds = []
    for lb in lbs or [{}]:
        dim = _q(_nlb_dimension(str(lb.get("arn", ""))))
        cmds.append(f"aws cloudwatch get-metric-statistics{_region_flag(lb)} --namespace AWS/NetworkELB "
                    f"--metric-name ActiveFlowCount --dimensions Name=LoadBalancer,Value={dim} --statistics Maximum "
                    "--period 300 --start-time $(date -u -d '-1 hour' +%FT%TZ) --end-time $(date -u +%FT%TZ)")
    port = instance_port(ctx)
    ids = [i["id"] for i in _inv(ctx, "instances") if i.get("id")]
    if ids:
        ss = f"ss -Htn state established '( sport = :{port} )' | awk '{{print $4}}' | cut -d: -f1 | sort | uniq -c"
        cmds.append(f"aws ssm send-command{_region_flag(_inv(ctx, 'instances')[0])} --document-name "
                    f"AWS-RunShellScript --instance-ids {' '.join(_q(i) for i in ids)} --parameters "
                    + _q(json.dumps({"commands": [ss]})))
    p.steps.append(Step(
        "4.2", "Find stragglers: connections still reaching the old NLB and instances",
        cmds, "ActiveFlowCount is 0 for 24 h and no established client connection on the instances",
        ["# switch the straggler found (its address identifies it), or roll back phase 3"],
        gate="no straggler for 24 h before phase 5",
        notes=["clients configured with an instance or Elastic IP directly never move with DNS or NLB weights"]))
    natc = "ErrorPortAllocation, IdleTimeoutCount, PacketsDropCount"
    p.steps.append(Step(
        "4.3", "Watch the NAT gateways the squid pods egress through",
        [f"# CloudWatch AWS/NATGateway: {natc} per NAT gateway"],
        "ErrorPortAllocation = 0; IdleTimeoutCount not rising with client errors",
        ["# run the rollback of the last phase-3 step; add secondary NAT IPs (allowlisted) before retrying"]))
    return p


# --------------------------------------------------------------------------- phase 5


def phase_decommission(ctx: Context) -> Phase:
    """Phase 5: deregister, stop, and release the Elastic IPs LAST."""
    p = Phase(5, "Decommission the EC2 proxies")
    tgs = _inv(ctx, "target_groups")
    if tgs:
        for tg in tgs:
            targets = [t.get("id") for t in tg.get("targets") or [] if t.get("id")]
            tlist = " ".join(_q(f"Id={t}") for t in targets) or "Id=<INSTANCE_ID>"
            arn = _q(str(tg.get("arn")))
            r = _region_flag(tg)
            p.steps.append(Step(
                f"5.{len(p.steps) + 1}", f"Deregister the proxies from target group {tg.get('name') or tg.get('arn')}",
                [f"aws elbv2 deregister-targets{r} --target-group-arn {arn} --targets {tlist}"],
                f"aws elbv2 describe-target-health{r} --target-group-arn {arn}  # targets gone "
                f"(draining lasts {tg.get('deregistration_delay_seconds') or 300}s)",
                [f"aws elbv2 register-targets{r} --target-group-arn {arn} --targets {tlist}"]))
    else:
        p.steps.append(Step("5.1", "Deregister the proxies from their target groups",
                            ["aws elbv2 deregister-targets --target-group-arn <TG_ARN> --targets Id=<INSTANCE_ID>"],
                            "describe-target-health shows no target", ["aws elbv2 register-targets …"],
                            notes=["pass --inventory to fill in the ARNs and ids"]))
    insts = _inv(ctx, "instances")
    ids = " ".join(_q(i["id"]) for i in insts if i.get("id")) or "<INSTANCE_IDS>"
    r = _region_flag(insts[0]) if insts else ""
    asgs = _inv(ctx, "auto_scaling_groups")
    cmd = [f"aws autoscaling update-auto-scaling-group{_region_flag(a)} --auto-scaling-group-name {_q(str(a.get('name')))} "
           "--min-size 0 --desired-capacity 0" for a in asgs]
    p.steps.append(Step(
        f"5.{len(p.steps) + 1}", "Stop the proxy instances (keep them for the rollback window)",
        [*cmd, f"aws ec2 stop-instances{r} --instance-ids {ids}"],
        f"aws ec2 describe-instances{r} --instance-ids {ids} --query 'Reservations[].Instances[].State.Name'  "
        "# all stopped",
        [f"aws ec2 start-instances{r} --instance-ids {ids}", "# then run the deregister rollbacks"],
        gate="phase 4 saw no straggler for 24 h"))
    # An EIP that is now a NAT gateway address is the cluster's egress: releasing it would cut egress.
    on_nat = {r["public_ip"] for r in ctx.egress.cluster_ips or []}
    kept = [e for e in _inv(ctx, "elastic_ips") if e.get("public_ip") in on_nat]
    eips = [e for e in _inv(ctx, "elastic_ips") if e.get("public_ip") not in on_nat]
    moved = list(ctx.egress.third_party)
    release_cmds = []
    for e in eips:
        rr = _region_flag(e)
        if e.get("association_id"):
            release_cmds.append(f"aws ec2 disassociate-address{rr} --association-id {_q(e['association_id'])}")
        release_cmds.append(f"aws ec2 release-address{rr} --allocation-id {_q(str(e.get('allocation_id')))}  "
                            f"# {_q(str(e.get('public_ip')))}")
    p.steps.append(Step(
        f"5.{len(p.steps) + 1}", "Release the Elastic IPs — LAST, only after every allowlist has moved",
        release_cmds or ["aws ec2 release-address --allocation-id <ALLOCATION_ID>"],
        "aws ec2 describe-addresses --public-ips " + (" ".join(_q(e["public_ip"]) for e in eips if e.get("public_ip"))
                                                      or "<EIP>")
        + "  # InvalidAddress.NotFound",
        ["# irreversible: a released address can sometimes be re-allocated with "
         "`aws ec2 allocate-address --address <IP>` only if nobody took it — hence LAST"],
        gate=(f"every owner on the allowlist checklist ({len(moved)} destination(s))" if moved else
              "every owner that allowlists the old egress IPs (pass --config for the checklist)")
        + " confirmed the new egress IPs are allowlisted",
        notes=["terminate the stopped instances and delete the NLB after the rollback window",
               *[f"keep {e.get('public_ip')} ({e.get('allocation_id')}): it is now a NAT gateway address"
                 for e in kept]]))
    total, currency = saving(ctx.inventory)
    if total is not None:
        p.steps[-1].notes.append(f"monthly saving after decommission: {total:,.2f} {currency} "
                                 "(inventory costs.legacy.monthly_total)")
        added = added_cost(ctx.inventory)
        if added is not None:
            p.steps[-1].notes.append(f"the target side adds {added:,.2f} {currency}/month (inventory "
                                     f"costs.target.incremental_monthly_total): net {total - added:,.2f} {currency}")
    return p


def build_phases(ctx: Context) -> list[Phase]:
    """Phases 0–5 in order."""
    return [phase_preflight(ctx), phase_deploy(ctx), phase_verify(ctx), phase_shift(ctx),
            phase_observe(ctx), phase_decommission(ctx)]
