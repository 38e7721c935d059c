"""OUT/argocd/ builds with ArgoCD's own path: ``kubectl kustomize --enable-helm`` over the real chart.

kubectl 1.31 and 1.35 (their bundled kustomize), each with Helm 3.16.1 (ArgoCD ships Helm 3; kubectl
1.35's kustomize runs ``helm version -c``, which Helm 4 refuses — checked below so the docs stay true).
For releases squid / egress / squid-prod: the build succeeds (kustomize refuses the chart's duplicate
key, so this also proves the exporter work-around), every object passes the strict schemas, and the
patches are the post-renderer's. Needs TINYSQUID_CHART_DIR.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration import _deploy_tools as tools
from tinysquid import convert as core

CHARTS = {"0.7.0": "0.7", "0.9.0": "0.9"}


def _argocd_dir(tmp: Path, chart_version: str, release: str, conf: Path) -> Path:
    root = tmp / "root"
    (root / "etc" / "tinyproxy").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EXAMPLES / "egress-allowlist" / "filter", root / "etc" / "tinyproxy" / "filter")
    result = core.convert_file(conf, core.ConvertOptions(chart_version=core.ChartVersion(CHARTS[chart_version]),
                                                         root=root))
    core.write_outputs(result, tmp / "out")
    argocd = tmp / "out" / "argocd"
    # kustomize looks for an already pulled chart at charts/<name>-<version>/<name>
    shutil.copytree(tools.chart_dir(chart_version), argocd / "charts" / f"squid-{chart_version}" / "squid")
    k = argocd / "kustomization.yaml"
    k.write_text(k.read_text().replace("releaseName: squid", f"releaseName: {release}"))
    return argocd


def _auth_conf(tmp: Path) -> Path:
    conf = tmp / "auth.conf"
    conf.write_text((EXAMPLES / "egress-allowlist" / "tinyproxy.conf").read_text()
                    .replace("Filter ", "BasicAuth alice s3cret-pass\nFilter ", 1))
    return conf


@pytest.mark.parametrize("kubectl_from", ["3", "4"])
@pytest.mark.parametrize("chart_version", list(CHARTS))
@pytest.mark.parametrize("release", ["squid", "egress", "squid-prod"])
def test_kustomize_build(kubectl_from: str, chart_version: str, release: str, tmp_path: Path) -> None:
    kubectl = tools.bundle(kubectl_from).kubectl
    helm3 = tools.bundle("3").helm
    argocd = _argocd_dir(tmp_path, chart_version, release, _auth_conf(tmp_path))
    done = tools.run([kubectl, "kustomize", "--enable-helm", "--helm-command", helm3, "."], cwd=argocd,
                     env=tools.helm_env(tmp_path))
    assert done.returncode == 0, done.stderr
    docs = tools.load_strict(done.stdout)
    tools.validate_strict(docs)
    tools.assert_deployable(docs, release, basic_auth=True)
    [dep] = tools.by_kind(docs, "Deployment")
    names = [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]]
    assert names == ["squid", "squid-exporter"]
    [metrics] = [s for s in tools.by_kind(docs, "Service") if s["metadata"]["labels"].get(
        "app.kubernetes.io/component") == "metrics"]
    assert metrics["metadata"]["name"] == f"{dep['metadata']['name']}-metrics"
    assert metrics["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_kubectl_135_kustomize_cannot_drive_helm4(tmp_path: Path) -> None:
    b = tools.bundle("4")
    argocd = _argocd_dir(tmp_path, "0.9.0", "squid", EXAMPLES / "egress-allowlist" / "tinyproxy.conf")
    done = tools.run([b.kubectl, "kustomize", "--enable-helm", "--helm-command", b.helm, "."], cwd=argocd,
                     env=tools.helm_env(tmp_path))
    assert done.returncode != 0 and "version -c" in done.stderr


def test_application_points_at_the_folder_with_server_side_apply(tmp_path: Path) -> None:
    import yaml

    result = core.convert_file(EXAMPLES / "egress-allowlist" / "tinyproxy.conf")
    app = yaml.safe_load(result.files["argocd/application.yaml"].text)
    assert app["kind"] == "Application" and app["spec"]["source"]["path"] == "argocd"
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert result.files["argocd/values.yaml"].data == result.files["values.yaml"].data
