"""#14.6: the runbook's Mermaid timeline of the phases and its egress-IP change picture (old EIPs → NAT
gateway IPs per availability zone); phase 2's verify command applies convert's expect.json."""

from __future__ import annotations

from pathlib import Path

from _planfix import HEALTHY, INVENTORY, VALUES, VERIFY_CLEAN

from tinysquid.plan import diagrams, render
from tinysquid.plan.build import PlanOptions, build_plan, plan_document


def _doc():
    plan = build_plan(PlanOptions(inventory=INVENTORY, verify_report=VERIFY_CLEAN, values=VALUES, cluster_dump=HEALTHY))
    return plan, plan_document(plan, version="X")


def test_timeline_has_one_period_per_phase_and_every_step_as_an_event():
    _, doc = _doc()
    text = diagrams.timeline(doc["phases"])
    lines = text.splitlines()
    assert lines[0] == "timeline"
    periods = lines[2:]
    assert len(periods) == len(doc["phases"]) == 6
    for line, phase in zip(periods, doc["phases"], strict=True):
        assert line.startswith(f"    Phase {phase['number']} ")
        events = line.split(" : ")[1:]
        assert [e.split(" ")[0] for e in events] == [s["id"] for s in phase["steps"]]  # no stray separator
        assert all(e.endswith("(gate)") == bool(s.get("gate")) for e, s in zip(events, phase["steps"], strict=True))


def test_runbook_shows_the_timeline_and_the_egress_change():
    plan, _ = _doc()
    text = render.to_markdown(plan, version="X")
    assert "## Timeline\n\n```mermaid\ntimeline\n" in text
    assert "```mermaid\nflowchart LR\n" in text


def _egress(old, new):
    return {"legacy_egress_ips": old, "cluster_egress_ips": new}


def test_each_old_eip_points_at_the_nat_ips_of_its_own_zone():
    inventory = {"instances": [{"id": "i-a", "availability_zone": "eu-west-1a", "subnet_id": "subnet-a"},
                               {"id": "i-b", "availability_zone": "eu-west-1b", "subnet_id": "subnet-b"}]}
    old = [{"public_ip": "203.0.113.1", "instance_id": "i-a"}, {"public_ip": "203.0.113.2", "instance_id": "i-b"}]
    new = [{"public_ip": "198.51.100.1", "nat_gateway_id": "nat-a", "subnet_id": "subnet-a"},
           {"public_ip": "198.51.100.2", "nat_gateway_id": "nat-b", "subnet_id": "subnet-b"}]
    text = diagrams.egress_change(_egress(old, new), inventory)
    assert text is not None
    assert 'subgraph az0["eu-west-1a"]' in text and 'subgraph az1["eu-west-1b"]' in text
    edges = {line.strip() for line in text.splitlines() if "-->" in line}
    assert edges == {"old0 --> new0", "old1 --> new1"}  # never across zones
    assert 'new0["198.51.100.1<br/>nat-a"]' in text and 'old1["203.0.113.2<br/>i-b eu-west-1b"]' in text


def test_an_old_eip_of_unknown_zone_points_at_every_nat_ip_and_unknowns_are_said():
    new = [{"public_ip": "198.51.100.1", "nat_gateway_id": "nat-a"}, {"public_ip": "198.51.100.2"}]
    text = diagrams.egress_change(_egress([{"public_ip": "203.0.113.9"}], new), None)
    assert text is not None
    assert {line.strip() for line in text.splitlines() if "-->" in line} == {"old0 --> new0", "old0 --> new1"}
    unknown_new = diagrams.egress_change(_egress([{"public_ip": "203.0.113.9"}], None), None)
    assert unknown_new is not None and "old0 --> new_unknown" in unknown_new
    assert diagrams.egress_change(_egress([], None), None) is None


def test_labels_cannot_break_the_diagram():
    text = diagrams.timeline([{"number": 1, "title": 'a: "b" [c]', "steps": [{"id": "1.1", "what": "go to http://x:1; #now"}]}])
    assert text.splitlines()[-1] == "    Phase 1 a b c : 1.1 go to x 1 now"


def test_phase_2_verify_uses_the_expectations_beside_the_values():
    _, doc = _doc()
    step = next(s for p in doc["phases"] if p["number"] == 2 for s in p["steps"])
    command = step["command"][-1]
    expect = str(Path(VALUES).with_name("expect.json"))
    assert f"--expect {expect} --report verify.json" in command
