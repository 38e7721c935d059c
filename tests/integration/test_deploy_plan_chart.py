"""plan-cutover --chart DIR renders the real chart with the converted values and the post-renderer."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import EXAMPLES
from tests.integration import _deploy_tools as tools
from tinysquid import convert as core
from tinysquid.cli import app


def _plan(tmp: Path, out: Path, chart: Path, helm_dir: Path) -> dict:
    env = {**tools.helm_env(tmp), "PATH": f"{helm_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = CliRunner().invoke(app, ["plan-cutover", "--values", str(out / "values.yaml"), "--chart", str(chart),
                                    "-o", "json"], env=env)
    assert done.exit_code in (0, 1, 4), done.output  # 4: values only, the cluster checks are unknown
    return json.loads(done.stdout[done.stdout.index("{"):])


def test_chart_render_passes_with_the_post_renderer_and_fails_without(tmp_path: Path) -> None:
    b = tools.bundle("3")
    chart = tools.chart_dir("0.9.0")
    result = core.convert_file(EXAMPLES / "egress-allowlist" / "tinyproxy.conf")
    out = tmp_path / "out"
    core.write_outputs(result, out)
    plan = _plan(tmp_path, out, chart, b.helm.parent)
    [check] = [c for c in plan["checks"] if c["id"] == "chart-render"]
    assert check["status"] == "pass", check
    (out / "post-renderer" / "post-render").unlink()
    plan = _plan(tmp_path, out, chart, b.helm.parent)
    [check] = [c for c in plan["checks"] if c["id"] == "chart-render"]
    assert check["status"] == "fail" and check["blocking"] and check["finding"]["code"] == "TS345", check
