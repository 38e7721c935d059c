"""``-o dot|mermaid``: the graph drawn NLB → target group → instance → ENI → EIP and Route 53 → NLB."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from tinysquid.inventory import picture

DOC = json.loads((Path(__file__).resolve().parents[3] / "examples" / "inventory.json").read_text())


def _kinds(edges):
    return {(a.split(":", 1)[0], b.split(":", 1)[0], label) for a, b, label, _dashed in edges}


def test_edges_run_the_way_traffic_and_names_flow():
    kinds = _kinds(picture.edges(DOC))
    assert ("lb", "tg", "TCP:8888") in kinds  # the listener folded into the edge label
    assert ("tg", "instance", "target") in kinds
    assert ("instance", "eni", "ENI") in kinds
    assert ("eni", "eip", "egress IP") in kinds
    assert {("dns", "lb", "alias"), ("dns", "lb", "resolves to")} <= kinds
    assert not any("listener" in (a, b) for a, b, _l in kinds)


def _chain(edges, start_kind):
    """Follow solid edges from a node of start_kind; the kinds met in order."""
    nxt = {}
    for a, b, _label, dashed in edges:
        if not dashed:
            nxt.setdefault(a, b)
    node = next(a for a, *_ in edges if a.startswith(start_kind + ":"))
    kinds = [start_kind]
    while node in nxt and len(kinds) < 10:
        node = nxt[node]
        kinds.append(node.split(":", 1)[0])
    return kinds


def test_one_path_from_route53_to_the_egress_address():
    assert _chain(picture.edges(DOC), "dns") == ["dns", "lb", "tg", "instance", "eni", "eip"]


def test_dot_is_a_digraph_with_every_node_declared_once():
    text = picture.to_dot(DOC)
    assert text.startswith("digraph inventory {") and text.rstrip().endswith("}")
    declared = re.findall(r'^  ("(?:[^"\\]|\\.)*") \[label=', text, re.M)
    used = set(re.findall(r'^  ("(?:[^"\\]|\\.)*") -> ("(?:[^"\\]|\\.)*")', text, re.M))
    assert len(declared) == len(set(declared))
    assert {n for pair in used for n in pair} <= set(declared)
    assert "EIP " in text and "TCP:8888" in text and "None" not in text


def test_mermaid_flowchart_labels_cannot_break_out():
    doc = copy.deepcopy(DOC)
    doc["instances"][0]["name"] = 'evil"]; click n0 href "javascript:alert(1)" <b>'
    text = picture.to_mermaid(doc)
    assert text.startswith("flowchart LR\n")
    for line in text.splitlines()[1:]:
        assert line.count('"') % 2 == 0, line  # every label stays one quoted string
    assert "<b>" not in text and 'evil#quot;' in text
    assert "-->|\"TCP:8888\"|" in text and "None" not in text


def test_cli_prints_the_picture_from_a_run(monkeypatch):
    import tinysquid.inventory.run as run_mod
    from tinysquid.diagnostics import Report
    from tinysquid.inventory.run import InventoryResult

    monkeypatch.setattr(run_mod, "run_inventory", lambda *a, **k: InventoryResult(DOC, Report(), []))
    monkeypatch.setattr("tinysquid.cli.inventory._session", lambda profile: None)
    for fmt, head in (("dot", "digraph"), ("mermaid", "flowchart LR")):
        result = CliRunner().invoke(__import__("tinysquid.cli", fromlist=["app"]).app,
                                    ["inventory-aws", "--region", "us-east-1", "-o", fmt])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(head)
