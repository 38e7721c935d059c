"""The CLI conventions kubectl, helm and AWS CLI users expect, one test each (issue #14 item 2):
-o is a format everywhere, convert's folder is --out-dir, `-` is stdout for one document, -h,
completion, -q/-v/--debug, one exit-code table, clean metavars and error texts, a missing input
file is exit 2 in every command, KUBECONFIG merged as kubectl merges it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from tests.conftest import EXAMPLES, REPO
from tinysquid.cli import app
from tinysquid.diagnostics.report import EXIT_CODES, exit_codes_markdown, exit_codes_text

runner = CliRunner()
COMMANDS = ("convert", "verify", "inventory-aws", "plan-cutover", "schema")
EXAMPLE = EXAMPLES / "egress-allowlist" / "tinyproxy.conf"
# What -o takes in each command: the shared formats plus the command's own.
FORMATS = {
    "convert": {"table", "json", "yaml"},
    "verify": {"table", "json", "yaml", "junit", "markdown", "html"},
    "inventory-aws": {"table", "json", "yaml", "dot", "mermaid"},
    "plan-cutover": {"markdown", "json", "yaml"},
    "schema": {"json", "yaml"},
}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _help(command: str) -> str:
    result = runner.invoke(app, [command, "-h"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_h_is_help_and_help_has_clean_metavars(command: str) -> None:
    text = _help(command)
    for ugly in ("<bool>", "<path>", "<str>", "<int", "<float>", "<list[", "{"):
        assert ugly not in text, f"{command} --help shows {ugly!r}"
    for flag in ("--quiet", "-q", "--verbose", "-v", "--debug", "--help", "-h"):
        assert re.search(rf"(^|\s){re.escape(flag)}(\s|,|$)", text, re.M), f"{command}: no {flag}"


def test_root_help_has_h_and_completion() -> None:
    result = runner.invoke(app, ["-h"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--install-completion" in result.output and "<bool>" not in result.output


def test_completion_script_and_completions() -> None:
    script = runner.invoke(app, ["--show-completion", "bash"])
    assert script.exit_code == 0 and "_TINYSQUID_COMPLETE=complete_bash" in script.output
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "_TINYSQUID_COMPLETE": "complete_bash"}
    for words, expected in (("tinysquid conv", {"convert"}), ("tinysquid convert x -o ", FORMATS["convert"]),
                            ("tinysquid verify -o ", FORMATS["verify"])):
        proc = subprocess.run([sys.executable, "-m", "tinysquid"], capture_output=True, text=True, timeout=60,
                              env={**env, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)},
                              check=False)
        assert proc.returncode == 0 and set(proc.stdout.split()) == expected, (words, proc.stdout, proc.stderr)


@pytest.mark.parametrize("command", COMMANDS)
def test_o_is_the_output_format_in_every_command(command: str) -> None:
    click_cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    params = click_cmd.get_params(typer.Context(click_cmd))  # metavars are tidied here
    [param] = [p for p in params if "-o" in getattr(p, "opts", ())]
    assert "--output" in param.opts
    choices = set(str(param.metavar).split("|"))
    assert choices == FORMATS[command]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_epilog_carries_the_one_exit_code_table(command: str) -> None:
    text = _flat(_help(command))
    assert _flat(exit_codes_text(command)) in text
    for code, name, _ in EXIT_CODES:
        assert f"{int(code)} {name}" in text


def test_readme_carries_the_same_exit_code_table() -> None:
    readme = (REPO / "README.md").read_text()
    assert exit_codes_markdown() in readme, "README's exit-code table is stale: paste exit_codes_markdown()"


def test_convert_o_folder_is_a_clear_error_naming_out_dir(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 2
    assert "TS016" in result.stderr and f"--out-dir {out}" in result.stderr
    assert not out.exists()


def test_convert_only_values_to_stdout_pipes_into_helm(tmp_path: Path) -> None:
    piped = runner.invoke(app, ["convert", str(EXAMPLE), "--only", "values", "--out-dir", "-"])
    assert piped.exit_code == 0, piped.stderr
    full = runner.invoke(app, ["convert", str(EXAMPLE), "--out-dir", str(tmp_path / "out")])
    assert full.exit_code == 0
    assert piped.stdout == (tmp_path / "out" / "values.yaml").read_text()  # the document, and nothing else
    assert yaml.safe_load(piped.stdout)["config"]["squid.conf"]
    assert "helm install squid oci://ghcr.io/younsl/charts/squid --version 0.9.0 -n squid --create-namespace" \
        in piped.stdout
    one = runner.invoke(app, ["convert", str(EXAMPLE), "--only", "squid.conf", "--out-dir", str(tmp_path / "one")])
    assert one.exit_code == 0 and [p.name for p in (tmp_path / "one").iterdir()] == ["squid.conf"]


@pytest.mark.parametrize("extra", [[], ["-o", "json"]], ids=["no-only", "json-too"])
def test_convert_stdout_holds_one_document(extra: list[str]) -> None:
    only = ["--only", "values"] if extra else []
    result = runner.invoke(app, ["convert", str(EXAMPLE), "--out-dir", "-", *only, *extra])
    assert result.exit_code == 2 and "TS017" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_convert_report_formats(fmt: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(EXAMPLE), "--out-dir", str(tmp_path / "o"), "-o", fmt])
    assert result.exit_code == 0
    doc = yaml.safe_load(result.stdout)  # JSON is YAML too
    assert doc["kind"] == "ConvertReport"


def test_schema_yaml() -> None:
    result = runner.invoke(app, ["schema", "Inventory", "-o", "yaml"])
    assert result.exit_code == 0 and yaml.safe_load(result.stdout)["$id"] == "urn:tinysquid:v1:Inventory"


def test_plan_yaml_and_out_dash() -> None:
    result = runner.invoke(app, ["plan-cutover", "-o", "yaml", "--out", "-", "-q"])
    assert result.exit_code == 4  # no inputs at all: incomplete, never 0
    assert yaml.safe_load(result.stdout)["kind"] == "CutoverPlan"
    assert result.stderr == ""  # -q: only errors on stderr


def test_quiet_and_verbose(tmp_path: Path) -> None:
    normal = runner.invoke(app, ["convert", str(EXAMPLE), "--out-dir", str(tmp_path / "a")])
    quiet = runner.invoke(app, ["convert", str(EXAMPLE), "--out-dir", str(tmp_path / "b"), "-q"])
    verbose = runner.invoke(app, ["convert", str(EXAMPLE), "--out-dir", str(tmp_path / "c"), "-v"])
    assert normal.exit_code == quiet.exit_code == verbose.exit_code == 0
    assert quiet.stderr == "" and "TS401" in normal.stderr
    assert " exact: " in verbose.stderr and " exact: " not in normal.stderr  # -v lists the exact lines too
    both = runner.invoke(app, ["convert", str(EXAMPLE), "--out-dir", str(tmp_path / "d"), "-q", "-v"])
    assert both.exit_code == 2
    errors = runner.invoke(app, ["convert", str(tmp_path / "missing.conf"), "--out-dir", str(tmp_path / "e"), "-q"])
    assert errors.exit_code == 2 and "TS001" in errors.stderr  # -q never hides an error


@pytest.mark.parametrize("command", COMMANDS)
def test_debug_is_accepted_after_every_command(command: str) -> None:
    result = runner.invoke(app, [command, "--debug", "-h"])
    assert result.exit_code == 0


@pytest.mark.parametrize(("args", "flag"), [
    (["convert", "{missing}", "--out-dir", "{tmp}/o"], "convert"),
    (["verify", "--old", "http://127.0.0.1:9", "--new", "http://127.0.0.1:9", "--targets", "{missing}"], "verify"),
    (["verify", "--old", "http://127.0.0.1:9", "--new", "http://127.0.0.1:9", "--expect", "{missing}"], "verify"),
    (["inventory-aws", "--region", "us-east-1", "--prices", "{missing}"], "inventory-aws"),
    (["plan-cutover", "--inventory", "{missing}"], "plan-cutover"),
    (["plan-cutover", "--kubeconfig", "{missing}", "--context", "x"], "plan-cutover"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_missing_input_file_is_exit_2_in_every_command(args: list[str], flag: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.file"
    argv = [a.replace("{missing}", str(missing)).replace("{tmp}", str(tmp_path)) for a in args]
    result = runner.invoke(app, argv, env={"AWS_ACCESS_KEY_ID": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    assert result.exit_code == 2, (flag, result.output)
    assert "TS001" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("argv", [
    ["convert", "x.conf", "--out-dir", "o", "--replicas", "abc"],
    ["verify", "--old", "http://127.0.0.1:9", "--new", "http://127.0.0.1:9", "--concurrency", "0"],
    ["plan-cutover", "-o", "pdf"],
    ["inventory-aws", "-o", "csv"],
], ids=["not-a-number", "below-min", "plan-choice", "inventory-choice"])
def test_error_texts_are_plain(argv: list[str]) -> None:
    result = runner.invoke(app, argv, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    for ugly in ("Value error,", "Input should", "{", "<int"):
        assert ugly not in result.output, result.output


def _kubeconfig(path: Path, *, current: str | None, clusters: dict[str, str], contexts: dict[str, str]) -> Path:
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": n, "cluster": {"server": s}} for n, s in clusters.items()],
           "users": [{"name": "u", "user": {"token": "t"}}],
           "contexts": [{"name": n, "context": {"cluster": c, "user": "u"}} for n, c in contexts.items()]}
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def test_kubeconfig_paths_merge_as_kubectl_merges_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client
    from kubernetes.config.kube_config import KubeConfigLoader

    from tinysquid.plan.cluster import merged_kubeconfig

    first = _kubeconfig(tmp_path / "a", current="prod", clusters={"shared": "https://127.0.0.1:1001"},
                        contexts={"dev": "shared"})
    second = _kubeconfig(tmp_path / "b", current="dev", clusters={"shared": "https://127.0.0.1:2002",
                                                                   "prod-c": "https://127.0.0.1:3003"},
                         contexts={"prod": "prod-c", "dev": "prod-c"})
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(first), "", str(second)]))

    def host(context: str | None) -> str:
        cfg = client.Configuration()
        KubeConfigLoader(config_dict=merged_kubeconfig(), config_base_path=None, active_context=context
                         ).load_and_set(cfg)
        return str(cfg.host)

    assert host(None) == "https://127.0.0.1:3003"     # current-context: the first file's (prod, from b)
    assert host("dev") == "https://127.0.0.1:1001"    # the first file defining dev and shared wins
    assert host("prod") == "https://127.0.0.1:3003"   # a context only the second file has
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    from tinysquid.diagnostics import InputError

    with pytest.raises(InputError) as err:
        merged_kubeconfig()
    assert err.value.diagnostic.code == "TS004"


def test_readme_helm_install_is_pinned_to_plan_cutovers_namespace() -> None:
    from tinysquid.helm.values import CHART_RELEASES
    from tinysquid.plan.build import PlanOptions

    readme = (REPO / "README.md").read_text()
    lines = re.findall(r"helm install squid oci://ghcr.io/younsl/charts/squid (.*)", readme)
    assert lines, "the README shows no helm install line"
    for rest in lines:
        m = re.search(r"--version (\S+) -n (\S+) --create-namespace", rest)
        assert m, rest
        assert m.group(1) in CHART_RELEASES.values() and m.group(2) == PlanOptions().namespace
    ns = next(p for p in typer.main.get_command(app).commands["plan-cutover"].params  # type: ignore[attr-defined]
              if p.name == "namespace")
    assert ns.default == PlanOptions().namespace
