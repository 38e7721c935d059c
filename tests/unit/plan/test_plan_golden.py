"""Golden runbook: the fixture inputs beside it fix every byte (paths given relative, version masked).

Regenerate after an intended change: TINYSQUID_UPDATE_GOLDEN=1 pytest tests/unit/plan/test_plan_golden.py
"""

from __future__ import annotations

import os

import pytest
from _planfix import CASES

from tinysquid import __version__
from tinysquid.plan import render
from tinysquid.plan.build import PlanOptions, build_plan
from tinysquid.plan.phases import Strategy

ARGV = ("--inventory", "inventory.json", "--verify-report", "verify-clean.json", "--values", "values.yaml")


@pytest.mark.parametrize("strategy", list(Strategy))
def test_runbook_matches_golden(monkeypatch, strategy):
    from pathlib import Path

    monkeypatch.chdir(CASES)
    plan = build_plan(PlanOptions(inventory=Path("inventory.json"), verify_report=Path("verify-clean.json"),
                                  values=Path("values.yaml"), cluster_dump=Path("dumps/healthy"),
                                  strategy=strategy, argv=(*ARGV, "--namespace", "squid", "--strategy", str(strategy))))
    text = (render.to_markdown(plan, version=__version__).replace(f"tinysquid {__version__}", "tinysquid VERSION")
            .replace(f"tinysquid:{__version__}", "tinysquid:VERSION")
            .replace(f"app.kubernetes.io/version: {__version__}", "app.kubernetes.io/version: VERSION"))
    golden = CASES / "golden" / f"healthy-{strategy}.md"
    if os.environ.get("TINYSQUID_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text()
