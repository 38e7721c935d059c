"""The post-renderer on the chart's real rendered output (../shared/chart, with its duplicate key).

It runs as a user runs it: the generated ``post-render`` file, executed with stdin/stdout, from a
real conversion's output folder. Its YAML reader is also checked against PyYAML on generated data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import CHART_RENDERS, chart_render_params
from tests.integration import _deploy_tools as tools
from tinysquid import deploy
from tinysquid.deploy import post_render

SHARED = CHART_RENDERS
RENDERS = sorted(SHARED.glob("rendered-*.yaml"))
AUTH = {"secret": "squid-basic-auth", "key": "passwd", "mount_path": "/etc/squid/passwd"}


def _write(tmp: Path, basic_auth: dict | None, grace: int = 60) -> Path:
    s = deploy.DeploySettings(chart_version="0.9", target_port=3128, shutdown_timeout=30, grace_seconds=grace,
                              exporter_port=9301, basic_auth=basic_auth)
    for name, spec in deploy.post_renderer_files(s).items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.data)
        path.chmod(spec.mode)
    return tmp / "post-renderer" / "post-render"


def _run(script: Path, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script)], input=text, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.chart_renders
def test_the_shared_renders_are_present() -> None:
    assert len(RENDERS) == 4, f"expected 4 rendered-*.yaml in {SHARED}"


@pytest.mark.parametrize("auth", [AUTH, None], ids=["basic-auth", "no-auth"])
@pytest.mark.parametrize("render", chart_render_params())
def test_patches_by_label_and_keeps_everything_else(render: Path, auth: dict | None, tmp_path: Path) -> None:
    release = render.stem.rsplit("-", 1)[1]
    text = render.read_text()
    with pytest.raises(yaml.constructor.ConstructorError):
        tools.load_strict(text)                         # the chart's duplicate key is really there
    done = _run(_write(tmp_path, auth), text)
    assert done.returncode == 0, done.stderr
    out = tools.load_strict(done.stdout)               # ... and gone
    before = [d for d in yaml.safe_load_all(text) if d]  # PyYAML keeps the last value, as Helm does
    assert [d["kind"] for d in out] == [d["kind"] for d in before]
    for old, new in zip(before, out, strict=False):
        if old["kind"] != "Deployment":
            assert new == old
    [dep] = tools.by_kind(out, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    squid = tools.squid_container(dep)
    script = squid["lifecycle"]["preStop"]["exec"]["command"]
    assert script[:2] == ["/bin/sh", "-c"]
    assert script[2].startswith("sleep 10\nsquid -k shutdown")
    assert "-lt 45 ]" in script[2]                       # 60 s grace - 10 s drain - 5 s
    mounts = [m["mountPath"] for m in squid["volumeMounts"]]
    assert ("/etc/squid/passwd" in mounts) is (auth is not None)
    if auth:
        [vol] = [v for v in pod["volumes"] if v["name"] == "squid-passwd"]
        assert vol["secret"] == {"secretName": "squid-basic-auth", "defaultMode": 0o440}
    # everything not patched is unchanged
    [old_dep] = tools.by_kind(before, "Deployment")
    old_pod = old_dep["spec"]["template"]["spec"]
    for key in set(old_pod) | set(pod):
        if key not in ("containers", "volumes", "topologySpreadConstraints"):
            assert pod.get(key) == old_pod.get(key), key
    assert dep["metadata"] == old_dep["metadata"]
    assert dep["metadata"]["labels"]["app.kubernetes.io/instance"] == release
    tools.validate_strict(out)


@pytest.mark.chart_renders
def test_the_spread_selector_gets_the_release_instance(tmp_path: Path) -> None:
    text = (SHARED / "rendered-0.9.0-egress.yaml").read_text()
    spread = ("      topologySpreadConstraints:\n        - maxSkew: 1\n          topologyKey: "
              "topology.kubernetes.io/zone\n          whenUnsatisfiable: DoNotSchedule\n          labelSelector:\n"
              "            matchLabels:\n              app.kubernetes.io/name: squid\n")
    text = text.replace("      volumes:\n", spread + "      volumes:\n", 1)
    done = _run(_write(tmp_path, None), text)
    assert done.returncode == 0, done.stderr
    [dep] = tools.by_kind(tools.load_strict(done.stdout), "Deployment")
    [tsc] = dep["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert tsc["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "squid",
                                                   "app.kubernetes.io/instance": "egress"}


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t: t.replace("app.kubernetes.io/name: squid", "app.kubernetes.io/name: other"), "no Deployment"),
    (lambda t: t.replace("kind: Deployment", "kind: StatefulSet"), "no Deployment"),
    (lambda t: t.replace("replicas: 2", "replicas: &r 2"), "anchors"),
    (lambda t: t.replace("replicas: 2", "replicas: {a: 1}"), "flow collections"),
    (lambda t: t.replace("terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 40"), "shorter"),
    (lambda t: t.replace("        - name: squid\n", "        - name: squidx\n", 1), "no container"),
])
@pytest.mark.chart_renders
def test_fails_closed(mutate, message: str, tmp_path: Path) -> None:
    text = mutate((SHARED / "rendered-0.9.0-squid.yaml").read_text())
    done = _run(_write(tmp_path, AUTH), text)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert done.stdout == ""


def test_settings_and_plugin_manifest(tmp_path: Path) -> None:
    script = _write(tmp_path, AUTH)
    assert script.stat().st_mode & 0o111
    assert script.read_text().startswith("#!/usr/bin/env python3\n")
    plugin = yaml.safe_load((script.parent / "plugin.yaml").read_text())
    assert plugin["apiVersion"] == "v1" and plugin["type"] == "postrenderer/v1"
    assert plugin["runtime"] == "subprocess" and plugin["name"] == deploy.PLUGIN_NAME
    assert plugin["runtimeConfig"]["platformCommand"][0]["command"] == "${HELM_PLUGIN_DIR}/post-render"
    assert json.loads((script.parent / "settings.json").read_text())["basic_auth"] == AUTH


def test_script_is_stdlib_only() -> None:
    """Run in a bare interpreter (-S -I: no site-packages): it must not need PyYAML or tinysquid."""
    src = deploy.post_render_source()
    done = subprocess.run([sys.executable, "-S", "-I", "-c", src.replace('if __name__ == "__main__":', "if 0:")
                           + "\nimport sys; print(sorted(m for m in sys.modules if m in ('yaml','tinysquid')))"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the reader vs PyYAML

_key = st.from_regex(r"[a-z][a-z0-9./-]{0,12}", fullmatch=True)
_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
_scalar = st.one_of(_text, st.integers(-5, 10**6), st.booleans(), st.none(),
                    st.lists(_text, min_size=1, max_size=4).map("\n".join))
_tree = st.recursive(_scalar, lambda c: st.one_of(st.lists(c, max_size=4),
                                                  st.dictionaries(_key, c, max_size=4)), max_leaves=20)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)


class _IndentedDumper(_Dumper):
    """Sequences indented under their key, as Helm templates write them (toYaml does not)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_key, _tree, min_size=1, max_size=5), min_size=1, max_size=3),
       st.booleans())
def test_reader_and_writer_round_trip_block_yaml(docs: list[dict], indent_seqs: bool) -> None:
    dumper = _IndentedDumper if indent_seqs else _Dumper
    text = "".join("---\n# Source: x\n" + yaml.dump(d, Dumper=dumper, default_flow_style=False, width=10**6,
                                                     sort_keys=False) for d in docs)
    try:
        parsed = post_render.parse_stream(text)
    except post_render.RenderError:
        # the only refusals allowed: forms PyYAML chose that Helm templates do not print
        assert any(mark in text for mark in ("|2", "|+", "? ", "'\n", '"\n', "!!")), text
        return
    again = post_render.emit_stream(parsed)
    assert list(yaml.safe_load_all(again)) == list(yaml.safe_load_all(text))
