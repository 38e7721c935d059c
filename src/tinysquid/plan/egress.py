"""Egress-IP impact: the old proxies' public addresses versus the cluster's, and the NAT limits.

The legacy egress addresses come from the inventory's ``egress_ips`` (EIPs of the proxy instances,
idle tagged EIPs, auto-assigned IPs). squid pods in private subnets egress through the NAT gateway
of their zone, so the new addresses are the NAT gateways' public IPs (inventory ``nat_gateways``,
in the proxies' VPCs). Every third-party destination of the tinyproxy filter may allowlist the old
addresses: that is the owners' checklist. NAT limits (AWS VPC docs, research anchors §4): 55,000
concurrent connections per unique destination (IP, port, protocol) per NAT IP; 350 s idle timeout.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tinysquid.diagnostics import Diagnostic
from tinysquid.diagnostics.model import make
from tinysquid.plan.inputs import Inputs, get

NAT_IDLE_TIMEOUT = 350
NAT_CONNECTIONS_PER_DESTINATION = 55_000
# Destinations inside the organisation do not allowlist the proxy's public address.
_INTERNAL_SUFFIXES = (".local", ".internal", ".svc", ".cluster.local", ".localdomain", ".lan", ".corp",
                      ".home.arpa", ".intranet", "localhost")


@dataclass
class Risk:
    """One risk of the cutover: what, evidence, mitigation, and whether it blocks."""

    id: str
    title: str
    finding: Diagnostic
    evidence: list[str] = field(default_factory=list)
    mitigation: str = ""
    blocking: bool = False

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "title": self.title, "code": self.finding.code,
                "severity": str(self.finding.severity), "blocking": self.blocking,
                "evidence": list(self.evidence), "mitigation": self.mitigation,
                "finding": self.finding.to_record()}


@dataclass
class Egress:
    """The egress section of the runbook."""

    legacy_ips: list[dict[str, Any]] = field(default_factory=list)
    cluster_ips: list[dict[str, Any]] | None = None  # None = unknown
    cluster_ips_command: str | None = None
    status: str = "unknown"  # same | changed | unknown
    third_party: list[dict[str, str]] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"status": self.status, "legacy_egress_ips": self.legacy_ips,
                "cluster_egress_ips": self.cluster_ips, "cluster_egress_command": self.cluster_ips_command,
                "third_party_destinations": self.third_party, "notes": list(self.notes)}


def legacy_egress(inventory: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The inventory's ``egress_ips`` (strings or records), normalised, in inventory order."""
    out = []
    for item in inventory.get("egress_ips") or []:
        rec = {"public_ip": item} if isinstance(item, str) else dict(item) if isinstance(item, Mapping) else None
        if rec and rec.get("public_ip"):
            out.append({k: rec.get(k) for k in ("public_ip", "kind", "allocation_id", "instance_id", "region")
                        if rec.get(k) is not None})
    return out


def _proxy_vpcs(inventory: Mapping[str, Any]) -> set[tuple[str | None, str]]:
    return {(i.get("region"), i["vpc_id"]) for i in inventory.get("instances") or []
            if isinstance(i, Mapping) and i.get("vpc_id")}


def cluster_egress(inventory: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Public IPs of the available public NAT gateways in the proxies' VPCs, or None if unknown."""
    nats = inventory.get("nat_gateways")
    if not isinstance(nats, list) or not nats:
        return None
    vpcs = _proxy_vpcs(inventory)
    out = []
    for g in nats:
        if not isinstance(g, Mapping) or g.get("connectivity", "public") != "public":
            continue
        if g.get("state") not in (None, "available"):
            continue
        if vpcs and (g.get("region"), g.get("vpc_id")) not in vpcs and g.get("vpc_id") not in {v for _, v in vpcs}:
            continue
        for ip in g.get("public_ips") or []:
            out.append({"public_ip": ip, "nat_gateway_id": g.get("id"), "region": g.get("region"),
                        "subnet_id": g.get("subnet_id")})
    return out or None


def nat_command(inventory: Mapping[str, Any] | None) -> str:
    """The read-only aws CLI command that lists the NAT gateways' public IPs."""
    vpcs = sorted(_proxy_vpcs(inventory or {}), key=lambda rv: (rv[0] or "", rv[1]))
    if vpcs:
        region, _vpc = vpcs[0]
        parts = ["aws", "ec2", "describe-nat-gateways"]
        if region:
            parts += ["--region", region]
        parts += ["--filter", f"Name=vpc-id,Values={','.join(v for _, v in vpcs)}", "Name=state,Values=available"]
    else:
        parts = ["aws", "ec2", "describe-nat-gateways", "--filter", "Name=state,Values=available"]
    parts += ["--query", "NatGateways[].NatGatewayAddresses[].PublicIp", "--output", "text"]
    return " ".join(shlex.quote(p) for p in parts)


def is_third_party(domain: str) -> bool:
    """True unless the name is internal (cluster/corporate suffix) or a private/loopback address."""
    d = domain.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(d)
    except ValueError:
        return not any(d == s.lstrip(".") or d.endswith(s) for s in _INTERNAL_SUFFIXES)
    return ip.is_global


def analyse(inputs: Inputs) -> Egress:
    """The egress section: legacy vs cluster egress IPs, the owners' checklist, NAT risks."""
    eg = Egress()
    inv = inputs.inventory
    proxy = inputs.proxy
    if inv is None:
        eg.notes.append("legacy egress IPs unknown: pass --inventory (tinysquid inventory-aws -o json)")
    else:
        eg.legacy_ips = legacy_egress(inv)
        eg.cluster_ips = cluster_egress(inv)
        if eg.cluster_ips is None:
            eg.cluster_ips_command = nat_command(inv)
    old = {r["public_ip"] for r in eg.legacy_ips}
    if eg.cluster_ips is None:
        eg.status = "unknown"
        cmd = eg.cluster_ips_command or nat_command(None)
        eg.cluster_ips_command = cmd
        eg.risks.append(Risk("egress-ip-unknown", "cluster egress IPs not known", make(
            "TS721", "the cluster's egress IPs are unknown", source="plan", subject="egress",
            hint=f"run: {cmd}"), evidence=["the inventory has no NAT gateway in the proxies' VPC"
                                          if inv is not None else "no --inventory"],
            mitigation=f"Find them with `{cmd}` (squid in private subnets egresses through its zone's NAT "
                       "gateway), then send them to every owner on the checklist."))
    else:
        new = {r["public_ip"] for r in eg.cluster_ips}
        eg.status = "same" if new and new <= old else "changed"
        if eg.status == "changed" and old:
            eg.risks.append(Risk(
                "egress-ip-change", "egress IPs change at cutover", make(
                    "TS720", f"egress moves from {', '.join(sorted(old))} to {', '.join(sorted(new))}",
                    source="plan", subject="egress", data={"old": sorted(old), "new": sorted(new)}),
                evidence=[f"legacy: {', '.join(sorted(old))}", f"cluster (NAT): {', '.join(sorted(new))}"],
                mitigation="Before phase 3 have every owner on the checklist ADD the NAT IPs (keep the old ones "
                           "until phase 5); or move the EIPs to the NAT gateways (AssociateNatGatewayAddress, "
                           "2 per NAT by default).", blocking=False))
    if proxy is not None:
        seen: set[str] = set()
        for domain, where in proxy.domains:
            if domain in seen or not is_third_party(domain):
                continue
            seen.add(domain)
            eg.third_party.append({"domain": domain, "source": where})
        if eg.third_party:
            eg.risks.append(Risk(
                "third-party-allowlist", f"{len(eg.third_party)} third-party destination(s) may allowlist "
                "the old egress IPs", make("TS722", f"{len(eg.third_party)} third-party destination(s) to "
                                           "confirm with their owners", source="plan", subject="egress",
                                           data={"domains": [t["domain"] for t in eg.third_party]}),
                evidence=[t["domain"] for t in eg.third_party[:50]],
                mitigation="Ask each owner whether they allowlist source IPs; if so, add the new egress IPs "
                           "before phase 3 and remove the old ones only after phase 5."))
    else:
        eg.notes.append("third-party destinations unknown: pass --config tinyproxy.conf")
    eg.risks.append(Risk(
        "nat-port-exhaustion", "NAT gateway: 55,000 concurrent connections per destination per NAT IP",
        make("TS723", f"at most {NAT_CONNECTIONS_PER_DESTINATION:,} concurrent connections per destination "
             "(IP, port, protocol) per NAT IP", source="plan", subject="egress"),
        evidence=[f"{len(eg.cluster_ips)} NAT IP(s) known" if eg.cluster_ips else "NAT IPs unknown",
                  "all squid pods of a zone share that zone's NAT gateway"],
        mitigation="Alarm on the NAT gateway's ErrorPortAllocation (CloudWatch); add secondary NAT IPs "
                   "(each must be allowlisted too); keep client connections alive to hot destinations."))
    timeout = proxy.timeout if proxy is not None else None
    if timeout is None or timeout > NAT_IDLE_TIMEOUT:
        where = (f"tinyproxy Timeout {timeout}s ({proxy.timeout_line or 'default'})" if proxy is not None and timeout is not None
                 else "tinyproxy Timeout unknown (pass --config); its default is 600 s")
        eg.risks.append(Risk(
            "nat-idle-timeout", "NAT gateway idle timeout 350 s is shorter than tinyproxy's Timeout",
            make("TS724", f"idle connections are reset after {NAT_IDLE_TIMEOUT}s by the NAT gateway; {where}",
                 source="plan", subject="egress", data={"tinyproxy_timeout": timeout}),
            evidence=[where, f"NAT gateway idle timeout {NAT_IDLE_TIMEOUT}s (not configurable)"],
            mitigation="Clients with long-idle tunnels (websockets, long polls, idle DB-over-TLS) must send TCP "
                       "keep-alives under 350 s; watch the NAT gateway's IdleTimeoutCount after phase 3."))
    return eg


def saving(inventory: Mapping[str, Any] | None) -> tuple[float | None, str]:
    """The legacy estate's monthly cost (saved at decommission) and its currency."""
    costs = get(inventory, "costs", default={}) or {}
    total = get(costs, "legacy", "monthly_total", default=costs.get("monthly_total"))
    try:
        return (float(total) if total is not None else None), str(costs.get("currency", "USD"))
    except (TypeError, ValueError):
        return None, "USD"


def added_cost(inventory: Mapping[str, Any] | None) -> float | None:
    """What the target side adds per month (inventory ``costs.target.incremental_monthly_total``:
    only the per-GB NAT term when NAT gateways already exist), or None when not priced."""
    value = get(inventory, "costs", "target", "incremental_monthly_total")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


