"""#14.6: plan-cutover exits 0 only when every blocking check passes; an unknown blocking check makes
the plan ``incomplete`` (exit 4); no inputs at all is incomplete, never exit 0."""

from __future__ import annotations

import json

from _planfix import HEALTHY, INVENTORY, VALUES, VERIFY_CLEAN, VERIFY_WIDENED
from typer.testing import CliRunner

from tinysquid.cli import app
from tinysquid.diagnostics import ExitCode
from tinysquid.plan.build import PlanOptions, build_plan


def _run(*args: str):
    return CliRunner().invoke(app, ["plan-cutover", "-o", "json", *args])


def test_every_blocking_check_passing_is_ready_and_exit_0():
    result = _run("--inventory", str(INVENTORY), "--verify-report", str(VERIFY_CLEAN), "--values", str(VALUES),
                  "--cluster-dump", str(HEALTHY))
    assert result.exit_code == ExitCode.OK, result.output
    doc = json.loads(result.stdout)
    assert doc["summary"]["verdict"] == "ready" and doc["summary"]["undecided"] == []


def test_no_inputs_at_all_is_incomplete_not_exit_0():
    result = _run()
    assert result.exit_code == ExitCode.INCOMPLETE == 4
    doc = json.loads(result.stdout)
    assert doc["summary"]["verdict"] == "incomplete"
    assert "verify" in doc["summary"]["undecided"] and "replicas" in doc["summary"]["undecided"]


def test_one_unknown_blocking_check_makes_the_plan_incomplete():
    # everything but the verify report: the verify gate is blocking and undecided
    plan = build_plan(PlanOptions(inventory=INVENTORY, values=VALUES, cluster_dump=HEALTHY))
    assert plan.blocking == []
    assert [c.id for c in plan.undecided] == ["verify"]
    assert plan.verdict == "incomplete"
    result = _run("--inventory", str(INVENTORY), "--values", str(VALUES), "--cluster-dump", str(HEALTHY))
    assert result.exit_code == ExitCode.INCOMPLETE


def test_markdown_runbook_says_incomplete_and_names_the_check():
    result = CliRunner().invoke(app, ["plan-cutover", "--inventory", str(INVENTORY), "--values", str(VALUES),
                                      "--cluster-dump", str(HEALTHY)])
    assert "Incomplete: 1 blocking check(s) unknown** (verify)" in result.stdout


def test_a_failing_blocking_check_wins_over_unknown_ones():
    result = _run("--verify-report", str(VERIFY_WIDENED))
    assert result.exit_code == ExitCode.FINDINGS
    assert json.loads(result.stdout)["summary"]["verdict"] == "blocked"
