"""The hand-written fixture documents follow their producers' contracts (checked with the producers'
own loaders, so a contract change shows up here), and plan reads an incomplete verify run as unknown."""

from __future__ import annotations

import json

from _planfix import INVENTORY, VERIFY_CLEAN, VERIFY_WIDENED

from tinysquid.plan.build import PlanOptions, build_plan


def test_inventory_fixture_satisfies_the_inventory_contract():
    from tinysquid.inventory.model import load_document

    assert load_document(INVENTORY)["schema_version"] == 1


def test_verify_fixtures_satisfy_the_verify_contract():
    from tinysquid.verify.model import load_document

    for path in (VERIFY_CLEAN, VERIFY_WIDENED):
        doc = load_document(path)
        probes = doc.probes
        assert doc.summary["total"] == len(probes)
        assert doc.summary["widened"] == sum(p["result"] == "widened" for p in probes)


def test_incomplete_verify_run_is_unknown_not_pass(tmp_path):
    doc = json.loads(VERIFY_CLEAN.read_text())
    doc["complete"], doc["deadline_hit"] = False, True
    path = tmp_path / "verify.json"
    path.write_text(json.dumps(doc))
    plan = build_plan(PlanOptions(verify_report=path))
    check = next(c for c in plan.checks if c.id == "verify")
    assert str(check.status) == "unknown" and "deadline" in check.evidence[-1]
