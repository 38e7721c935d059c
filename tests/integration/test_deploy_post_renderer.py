"""The post-renderer wired into the real Helm 3.16.1 and Helm 4.1.4, without the chart itself.

A throw-away chart whose only template is the younsl chart's rendered default output
(../shared/chart, data: no template actions) lets this run everywhere, CI included: Helm 3 runs
``OUT/post-renderer/post-render`` as an executable, Helm 4 installs ``OUT/post-renderer`` as a
postrenderer/v1 plugin and calls it by name. Also checks the Helm 4 facts the docs rely on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import chart_render_params
from tests.integration import _deploy_tools as tools
from tinysquid import deploy

AUTH = {"secret": "squid-basic-auth", "key": "passwd", "mount_path": "/etc/squid/passwd"}


def _data_chart(tmp: Path, render: Path) -> Path:
    chart = tmp / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: squid-data\nversion: 0.0.1\n")
    (chart / "templates" / "rendered.yaml").write_text(render.read_text())
    return chart


def _out(tmp: Path) -> Path:
    s = deploy.DeploySettings(chart_version="0.9", target_port=3128, shutdown_timeout=30, grace_seconds=60,
                              exporter_port=9301, basic_auth=AUTH)
    for name, spec in deploy.post_renderer_files(s).items():
        path = tmp / "out" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.data)
        path.chmod(spec.mode)
    return tmp / "out"


@pytest.mark.parametrize("helm_major", ["3", "4"])
@pytest.mark.parametrize("render", chart_render_params())
def test_helm_runs_the_post_renderer(helm_major: str, render: Path, tmp_path: Path) -> None:
    b = tools.bundle(helm_major)
    release = render.stem.rsplit("-", 1)[1]
    text = tools.helm_template(b, release, _data_chart(tmp_path, render), _empty(tmp_path), _out(tmp_path),
                               tools.helm_env(tmp_path))
    docs = tools.load_strict(text)
    [dep] = tools.by_kind(docs, "Deployment")
    squid = tools.squid_container(dep)
    assert squid["lifecycle"]["preStop"]["exec"]["command"][2].startswith("sleep 10\n")
    assert any(m["mountPath"] == "/etc/squid/passwd" for m in squid["volumeMounts"])
    tools.validate_strict(docs)


def _empty(tmp: Path) -> Path:
    path = tmp / "empty-values.yaml"
    path.write_text("{}\n")
    return path


@pytest.mark.chart_renders
def test_helm4_refuses_an_executable_post_renderer(tmp_path: Path) -> None:
    """Why the directory is also a plugin: Helm 4 takes only a plugin name for --post-renderer."""
    b = tools.bundle("4")
    out = _out(tmp_path)
    render = tools.SHARED_CHART / "rendered-0.9.0-squid.yaml"
    done = tools.run([b.helm, "template", "squid", _data_chart(tmp_path, render), "--post-renderer",
                      out / "post-renderer" / "post-render"], env=tools.helm_env(tmp_path))
    assert done.returncode != 0 and "not found" in done.stderr and "postrenderer/v1" in done.stderr


@pytest.mark.chart_renders
def test_a_failing_post_renderer_fails_the_render(tmp_path: Path) -> None:
    """No Deployment labelled squid: Helm reports the script's error instead of installing unpatched."""
    b = tools.bundle("3")
    render = tools.SHARED_CHART / "rendered-0.9.0-egress.yaml"
    other = tmp_path / "other.yaml"
    other.write_text(render.read_text().replace("app.kubernetes.io/name: squid", "app.kubernetes.io/name: x"))
    done = tools.run([b.helm, "template", "egress", _data_chart(tmp_path, other), "--post-renderer",
                      _out(tmp_path) / "post-renderer" / "post-render"], env=tools.helm_env(tmp_path))
    assert done.returncode != 0 and "no Deployment labelled" in done.stderr
