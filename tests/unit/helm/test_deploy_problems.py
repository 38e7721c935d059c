"""plan-cutover's chart-render findings on the chart's real output (../shared/chart): the raw chart
fails them, the post-rendered one passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import CHART_RENDERS, chart_render_params
from tinysquid import deploy
from tinysquid.plan.checks import deploy_problems

SHARED = CHART_RENDERS
AUTH = {"secret": "squid-basic-auth", "key": "passwd", "mount_path": "/etc/squid/passwd"}


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("render", chart_render_params())
def test_raw_chart_fails_post_rendered_passes(render: Path, tmp_path: Path) -> None:
    text = render.read_text().replace("http_access deny all",
                                      "auth_param basic program /usr/lib/squid/basic_ncsa_auth /etc/squid/passwd\n"
                                      "    http_access deny all")
    raw = deploy_problems(_docs(text))
    assert any("preStop" in p for p in raw) and any("passwd" in p for p in raw)
    s = deploy.DeploySettings(chart_version="0.9", target_port=3128, shutdown_timeout=30, grace_seconds=60,
                              exporter_port=9301, basic_auth=AUTH)
    for name, spec in deploy.post_renderer_files(s).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(spec.data)
        (tmp_path / name).chmod(spec.mode)
    done = subprocess.run([str(tmp_path / "post-renderer" / "post-render")], input=text, capture_output=True,
                          text=True, timeout=60, check=True)
    assert deploy_problems(_docs(done.stdout)) == []


@pytest.mark.chart_renders
def test_a_spread_counting_other_releases_is_found() -> None:
    docs = _docs((SHARED / "rendered-0.9.0-squid.yaml").read_text())
    [dep] = [d for d in docs if d["kind"] == "Deployment"]
    dep["spec"]["template"]["spec"]["topologySpreadConstraints"] = [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "squid"}}}]
    assert any("other releases" in p for p in deploy_problems(docs))
