"""What convert writes deploys with the real younsl chart on Helm 3.16.1 and Helm 4.1.4, for any release.

For the bundled example and corpus configs (two with BasicAuth, two with filters), chart 0.7.0 and
0.9.0, releases squid / egress / squid-prod: ``helm template`` with the post-renderer (Helm 3 as an
executable, Helm 4 as an installed postrenderer/v1 plugin) renders, every object passes
kubernetes-validate --strict at 1.31 and 1.34, the passwd file is mounted exactly where BasicAuth is
used, preStop sleeps before it shuts squid down, the spread keeps two zones and counts only the
release's own pods. Needs TINYSQUID_CHART_DIR (see tests/integration/_deploy_tools.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, require_corpus
from tests.integration import _deploy_tools as tools
from tinysquid import convert as core
from tinysquid.helm import size

CONFIGS = {
    "example": None,
    "12sws12__tinyproxy__tinyproxy.conf": True,
    "s4ysolutions__forward-proxies__tinyproxy_tinyproxy.conf": True,
    "Beennnn__secured-claude__docker_tinyproxy.conf": False,
    "CrustyBarnacle__container_claude__tinyproxy.conf": False,
}
CHARTS = {"0.7.0": "0.7", "0.9.0": "0.9"}
RELEASES = ("squid", "egress", "squid-prod")


def _convert(name: str, chart_line: str, tmp: Path) -> tuple[Path, bool]:
    if name == "example":
        conf, root = EXAMPLES / "egress-allowlist" / "tinyproxy.conf", None
    else:
        from tests.conformance._corpus import MANIFEST, lay_out

        manifest = json.loads(MANIFEST.read_text())
        entries = manifest if isinstance(manifest, list) else manifest.get("entries", manifest)
        [entry] = [e for e in entries if e["file"] == name]
        conf, root, _ = lay_out(entry, tmp / "in")
    result = core.convert_file(conf, core.ConvertOptions(chart_version=core.ChartVersion(chart_line),
                                                         root=root))
    out = tmp / "out"
    core.write_outputs(result, out)
    auth = result.policy is not None and result.policy.auth is not None and bool(result.policy.auth.users)
    return out, auth


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, bool]]:
    require_corpus()
    done = {}
    for name in CONFIGS:
        for line in set(CHARTS.values()):
            done[name, line] = _convert(name, line, tmp_path_factory.mktemp("conv"))
    return done


@pytest.mark.parametrize("helm_major", ["3", "4"])
@pytest.mark.parametrize("chart_version", list(CHARTS))
def test_renders_validates_and_patches(helm_major: str, chart_version: str, converted: dict,
                                       tmp_path: Path) -> None:
    b = tools.bundle(helm_major)
    chart = tools.chart_dir(chart_version)
    for n, (name, expect_auth) in enumerate(CONFIGS.items()):
        env = tools.helm_env(tmp_path / str(n))   # one plugin install per conversion
        out, auth = converted[name, CHARTS[chart_version]]
        if expect_auth is not None:
            assert auth is expect_auth, name
        for release in RELEASES:
            text = tools.helm_template(b, release, chart, out / "values.yaml", out, env)
            docs = tools.load_strict(text)          # no duplicate key left (kustomize-safe)
            assert {d["kind"] for d in docs} >= {"Deployment", "ConfigMap", "Service", "PodDisruptionBudget"}
            tools.validate_strict(docs)
            tools.assert_deployable(docs, release, basic_auth=auth)
            metrics = [d for d in tools.by_kind(docs, "Service") if d["metadata"]["name"].endswith("-metrics")]
            assert metrics and metrics[0]["metadata"]["labels"]["app.kubernetes.io/component"] == "metrics"


@pytest.mark.parametrize("chart_version", list(CHARTS))
def test_without_the_post_renderer_the_chart_keeps_its_faults(chart_version: str, converted: dict,
                                                              tmp_path: Path) -> None:
    """The reason the post-renderer exists: the chart alone shuts down first and mounts no passwd."""
    b = tools.bundle("3")
    chart = tools.chart_dir(chart_version)
    out, _ = converted["12sws12__tinyproxy__tinyproxy.conf", CHARTS[chart_version]]
    done = tools.run([b.helm, "template", "egress", chart, "-f", out / "values.yaml"], env=tools.helm_env(tmp_path))
    assert done.returncode == 0, done.stderr
    with pytest.raises(yaml.constructor.ConstructorError):
        tools.load_strict(done.stdout)
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    squid = tools.squid_container(tools.by_kind(docs, "Deployment")[0])
    assert squid["lifecycle"]["preStop"]["exec"]["command"][-1].lstrip().startswith("squid -k shutdown")
    assert all(m["mountPath"] != "/etc/squid/passwd" for m in squid["volumeMounts"])


@pytest.mark.parametrize("chart_version", list(CHARTS))
def test_release_size_estimate_is_not_below_the_release_json(chart_version: str, tmp_path: Path) -> None:
    """The estimate convert uses ≥ base64(gzip(release JSON)) built from the real chart and manifest."""
    b = tools.bundle("3")
    chart = tools.chart_dir(chart_version)
    filt = tmp_path / "filter"
    filt.write_text("".join(f"^(.*\\.)?svc{i:05d}\\.partner\\.example$\n" for i in range(3000)))
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nFilter "{filt}"\nFilterDefaultDeny Yes\nFilterExtended On\nAllow 10.0.0.0/8\n')
    result = core.convert_file(conf, core.ConvertOptions(chart_version=core.ChartVersion(CHARTS[chart_version])))
    core.write_outputs(result, tmp_path / "out")
    values = yaml.safe_load((tmp_path / "out" / "values.yaml").read_text())
    done = tools.run([b.helm, "template", "squid", chart, "-f", tmp_path / "out" / "values.yaml"],
                     env=tools.helm_env(tmp_path))
    assert done.returncode == 0, done.stderr
    real = size.release_secret_bytes(size.chart_release_json(str(chart), values, done.stdout))
    [cm] = [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "ConfigMap"]
    measured = size.measure(values, values["config"]["squid.conf"], CHARTS[chart_version])
    assert measured.configmap == sum(len(v.encode()) for v in cm["data"].values())
    assert real <= measured.release <= 1.3 * real, (real, measured.release)
