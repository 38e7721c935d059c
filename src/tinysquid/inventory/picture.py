"""The inventory graph as a picture: Graphviz ``dot`` or a Mermaid ``flowchart`` (``-o dot|mermaid``).

Drawn in the direction traffic and names flow — Route 53 record → NLB → (listener) → target group
→ instance → ENI → Elastic IP — whereas the document's edges point from the dependent resource to
what it belongs to (``eip associated-with eni``). Listeners are folded into the NLB → target group
edge as its label (``TCP:8888``); security groups and Auto Scaling groups hang off the instances
with dashed edges. Pure text from the document: the same document gives the same picture.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# relation → (draw reversed?, label, dashed?)
_STYLE: dict[str, tuple[bool, str, bool]] = {
    "alias-of": (False, "alias", False),
    "resolves-to": (False, "resolves to", False),
    "target-of": (True, "target", False),
    "attached-to": (True, "ENI", False),
    "associated-with": (True, "egress IP", False),
    "protects": (False, "protects", True),
    "member-of": (True, "member", True),
}
_LB_KIND = {"network": "NLB", "application": "ALB", "gateway": "GWLB"}
_SHAPE_DOT = {"dns": "note", "lb": "box3d", "tg": "folder", "instance": "box", "eni": "ellipse",
              "eip": "doublecircle", "sg": "hexagon", "asg": "tab"}


def _labels(doc: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in doc.get("instances", []):
        out[f"instance:{i['id']}"] = f"{i.get('name') or i['id']}\n{i['id']}" + (
            f"\n{i['private_ip']}" if i.get("private_ip") else "")
    for lb in doc.get("load_balancers", []):
        kind = _LB_KIND.get(str(lb.get("type")), "LB")
        out[f"lb:{lb['arn']}"] = f"{kind} {lb.get('name') or lb['arn']}" + (
            f"\n{lb['scheme']}" if lb.get("scheme") else "")
    for tg in doc.get("target_groups", []):
        out[f"tg:{tg['arn']}"] = f"TG {tg.get('name') or tg['arn']}\n{tg.get('protocol') or '?'}:{tg.get('port') or '?'}"
    for e in doc.get("elastic_ips", []):
        out[f"eip:{e['allocation_id']}"] = f"EIP {e['public_ip']}" + (" (idle)" if e.get("state") == "idle" else "")
    for i in doc.get("instances", []):
        for eni in i.get("network_interfaces") or []:
            eid = eni.get("id") if isinstance(eni, dict) else eni
            if eid:
                out[f"eni:{eid}"] = f"ENI {eid}"
    for sg in doc.get("security_groups", []):
        out[f"sg:{sg['id']}"] = f"SG {sg.get('name') or sg['id']}"
    for r in doc.get("dns_records", []):
        out[f"dns:{r['zone_id']}/{r['name']}/{r['type']}"] = f"{r['name']}\n{r['type']}" + (
            " alias" if r.get("alias") else "")
    for asg in doc.get("auto_scaling_groups", []):
        name = asg.get("name") if isinstance(asg, dict) else None
        if name:
            out[f"asg:{name}"] = f"ASG {name}"
    return out


def edges(doc: Mapping[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(from, to, label, dashed) in drawing direction, listeners folded into NLB → target group."""
    graph = doc.get("graph", {})
    raw = graph.get("edges", [])
    listener_lb = {e["from"]: e["to"] for e in raw if e["relation"] == "listener-of"}
    listeners = {f"listener:{lst['arn']}": f"{lst.get('protocol') or '?'}:{lst.get('port') or '?'}"
                 for lst in doc.get("listeners", [])}
    out: list[tuple[str, str, str, bool]] = []
    for e in raw:
        rel = e["relation"]
        if rel == "listener-of":
            continue
        if rel == "forwarded-by":  # tg → listener: draw lb → tg labelled with the listener
            lb = listener_lb.get(e["to"])
            if lb is not None:
                out.append((lb, e["from"], listeners.get(e["to"], "listener"), False))
            continue
        reverse, label, dashed = _STYLE.get(rel, (False, rel, False))
        src, dst = (e["to"], e["from"]) if reverse else (e["from"], e["to"])
        out.append((src, dst, label, dashed))
    return sorted(set(out))


def _nodes(doc: Mapping[str, Any], drawn: list[tuple[str, str, str, bool]]) -> list[tuple[str, str]]:
    kinds = {n["id"]: n["kind"] for n in doc.get("graph", {}).get("nodes", [])}
    ids = sorted({n for e in drawn for n in e[:2]} | {k for k, v in kinds.items() if v != "listener"})
    return [(n, kinds.get(n, n.split(":", 1)[0])) for n in ids]


def _fallback(node: str) -> str:
    kind, _, ident = node.partition(":")
    return f"{kind.upper()} {ident}" if ident else node


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(doc: Mapping[str, Any]) -> str:
    """A Graphviz digraph (``dot -Tsvg``)."""
    drawn = edges(doc)
    labels = _labels(doc)
    lines = ["digraph inventory {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for node, kind in _nodes(doc, drawn):
        if kind == "listener":
            continue
        lines.append(f"  {_dot_str(node)} [label={_dot_str(labels.get(node) or _fallback(node))}, "
                     f"shape={_SHAPE_DOT.get(kind, 'box')}];")
    for src, dst, label, dashed in drawn:
        style = ", style=dashed" if dashed else ""
        lines.append(f"  {_dot_str(src)} -> {_dot_str(dst)} [label={_dot_str(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_SHAPE = {"dns": ("[/", "/]"), "lb": ("[[", "]]"), "tg": ("[(", ")]"), "instance": ("[", "]"),
                  "eni": ("([", "])"), "eip": ("((", "))"), "sg": ("{{", "}}"), "asg": ("[", "]")}


def _mermaid_text(text: str) -> str:
    # Mermaid labels in quotes: a quote becomes #quot;, a line break <br/>; no markup passes through
    safe = re.sub(r"[<>]", "", text).replace('"', "#quot;")
    return '"' + safe.replace("\n", "<br/>") + '"'


def to_mermaid(doc: Mapping[str, Any]) -> str:
    """A Mermaid flowchart (renders in GitHub/GitLab Markdown inside a ```mermaid block)."""
    drawn = edges(doc)
    labels = _labels(doc)
    names: dict[str, str] = {}
    lines = ["flowchart LR"]
    for n, (node, kind) in enumerate(_nodes(doc, drawn)):
        if kind == "listener":
            continue
        names[node] = f"n{n}"
        left, right = _MERMAID_SHAPE.get(kind, ("[", "]"))
        lines.append(f"  n{n}{left}{_mermaid_text(labels.get(node) or _fallback(node))}{right}")
    for src, dst, label, dashed in drawn:
        if src not in names or dst not in names:
            continue
        arrow = "-.->" if dashed else "-->"
        lines.append(f"  {names[src]} {arrow}|{_mermaid_text(label)}| {names[dst]}")
    return "\n".join(lines) + "\n"


__all__ = ["edges", "to_dot", "to_mermaid"]
