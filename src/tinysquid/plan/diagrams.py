"""The runbook's pictures, as Mermaid text: the phases on a timeline, and the egress-IP change
(the old proxies' Elastic IPs → the NAT gateways' IPs, grouped by availability zone).

Pure functions of the plan document (``build.plan_document``), so the JSON and Markdown agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

EVENT_CHARS = 60  # a timeline event longer than this is cut: the phase section has the full step
_UNSAFE = re.compile(r"[:;#\"`<>{}\[\]|]")


def _label(text: Any, limit: int = 0) -> str:
    """Text safe inside a Mermaid label or timeline event (its separators and quotes removed, a
    URL's scheme dropped), cut to ``limit`` characters when given."""
    out = " ".join(_UNSAFE.sub(" ", re.sub(r"\b[a-z]+://", "", str(text))).split())
    return out if not limit or len(out) <= limit else out[: limit - 1].rstrip() + "…"


def timeline(phases: Sequence[Mapping[str, Any]]) -> str:
    """``timeline`` diagram: one period per phase, its steps as events (gated steps marked)."""
    lines = ["timeline", "    title Cutover tinyproxy to squid"]
    for p in phases:
        events = [f"{s['id']} {_label(s['what'], EVENT_CHARS)}" + (" (gate)" if s.get("gate") else "")
                  for s in p.get("steps") or []]
        lines.append(f"    Phase {p['number']} {_label(p['title'])} : " + " : ".join(events or ["no step"]))
    return "\n".join(lines)


def _zone_of_subnets(inventory: Mapping[str, Any] | None) -> dict[str, str]:
    zones: dict[str, str] = {}
    for inst in (inventory or {}).get("instances") or []:
        if isinstance(inst, Mapping) and inst.get("subnet_id") and inst.get("availability_zone"):
            zones[str(inst["subnet_id"])] = str(inst["availability_zone"])
    for lb in (inventory or {}).get("load_balancers") or []:
        for z in (lb.get("availability_zones") or []) if isinstance(lb, Mapping) else []:
            if isinstance(z, Mapping) and z.get("subnet_id") and z.get("zone"):
                zones.setdefault(str(z["subnet_id"]), str(z["zone"]))
    return zones


def _instance_zones(inventory: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(i["id"]): str(i["availability_zone"]) for i in (inventory or {}).get("instances") or []
            if isinstance(i, Mapping) and i.get("id") and i.get("availability_zone")}


def egress_change(egress: Mapping[str, Any], inventory: Mapping[str, Any] | None) -> str | None:
    """``flowchart LR``: each old egress IP → the NAT IPs of its zone (every NAT IP when its zone is
    unknown); None when neither side is known."""
    old = [ip for ip in egress.get("legacy_egress_ips") or [] if isinstance(ip, Mapping)]
    new = [ip for ip in egress.get("cluster_egress_ips") or [] if isinstance(ip, Mapping)]
    if not old and not new:
        return None
    inst_zone, subnet_zone = _instance_zones(inventory), _zone_of_subnets(inventory)
    lines = ["flowchart LR", '    subgraph before["Before: the old proxies\' Elastic IPs"]']
    old_zone: list[str | None] = []
    for i, ip in enumerate(old):
        zone = ip.get("availability_zone") or inst_zone.get(str(ip.get("instance_id")))
        old_zone.append(zone)
        where = " ".join(str(x) for x in (ip.get("instance_id"), zone) if x)
        lines.append(f'        old{i}["{_label(ip["public_ip"])}' + (f"<br/>{_label(where)}" if where else "") + '"]')
    if not old:
        lines.append('        old_unknown["unknown (pass --inventory)"]')
    lines.append("    end")
    lines.append('    subgraph after["After: NAT gateway IPs, per availability zone"]')
    by_zone: dict[str, list[int]] = {}
    new_zone: list[str | None] = []
    for j, ip in enumerate(new):
        zone = ip.get("availability_zone") or subnet_zone.get(str(ip.get("subnet_id")))
        new_zone.append(zone)
        by_zone.setdefault(zone or "zone unknown", []).append(j)
    for k, (zone, members) in enumerate(by_zone.items()):
        lines.append(f'        subgraph az{k}["{_label(zone)}"]')
        lines.extend(f'            new{j}["{_label(new[j]["public_ip"])}<br/>{_label(new[j].get("nat_gateway_id") or "NAT")}"]'
                     for j in members)
        lines.append("        end")
    if not new:
        lines.append('        new_unknown["unknown: run the aws command below"]')
    lines.append("    end")
    sources = [(f"old{i}", old_zone[i]) for i in range(len(old))] or [("old_unknown", None)]
    for src, zone in sources:
        if not new:
            lines.append(f"    {src} --> new_unknown")
            continue
        same = [j for j in range(len(new)) if not zone or new_zone[j] in (None, zone)]
        lines.extend(f"    {src} --> new{j}" for j in same or range(len(new)))
    return "\n".join(lines)
