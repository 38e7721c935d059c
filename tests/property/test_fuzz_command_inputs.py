"""Any input a user can hand plan-cutover, verify or inventory-aws ends in a documented exit code.

Each example runs the real command in a child process under an address-space cap (RLIMIT_AS) and a
wall-clock bound, so "no traceback" also means "no runaway memory, no hang". JSON/YAML documents,
raw bytes, hostile JSON (deep nesting, huge integers, Infinity/NaN) and option values are
generated. Every destination is on loopback (closed ports): verify's proxies and inventory's
endpoint are 127.0.0.1, so nothing leaves the machine. (convert's inputs: test_fuzz_convert_cli.py.)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DOCUMENTED = {0, 1, 2, 3, 4, 5}  # diagnostics.report.ExitCode without INTERNAL (70)
MEMORY_CAP = 1536 * 1024 * 1024  # bytes of address space for one command run
WALL = 90  # seconds for one command run (the commands' own deadlines are far shorter)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["apiVersion", "kind", "schema_version", "summary", "elastic_ips", "regions",
                         "probes", "findings", "counts", "widened", "x"]) | st.text(max_size=8), kids, max_size=5),
    max_leaves=20,
)
hostile = st.sampled_from([
    b"[" * 100_000, b'{"a":' * 50_000, b"1" * 100_000, b"Infinity", b"NaN", b"-Infinity",
    b'{"elastic_ips": ["x"]}', b'{"apiVersion": "tinysquid/v1", "kind": "Inventory"}',
    b'{"apiVersion": "tinysquid/v2", "kind": "VerifyReport"}', b"\xff\xfe\x00garbage", b"", b"---\n- a: [",
])
documents = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    hostile,
    st.binary(max_size=300),
)


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE", "TINYSQUID_DEBUG"))}
    env.update(HOME=str(tmp), XDG_CACHE_HOME=str(tmp / "cache"), KUBECONFIG=str(tmp / "no-kubeconfig"),
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", NO_PROXY="*", COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "tinysquid", *args], cwd=tmp, env=env, capture_output=True,
                          text=True, errors="replace", timeout=WALL, preexec_fn=cap, check=False)


def _clean(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode in DOCUMENTED, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventory=documents, verify_report=documents, values=documents,
       strategy=st.sampled_from(["env-switch", "nlb-weighted", "dns-weighted", "bogus"]),
       output=st.sampled_from(["markdown", "json", "yaml"]))
def test_plan_cutover_any_documents(inventory: bytes, verify_report: bytes, values: bytes, strategy: str,
                                    output: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, data in (("inventory.json", inventory), ("verify.json", verify_report), ("values.yaml", values)):
            (tmp / name).write_bytes(data)
        _clean(_run(["plan-cutover", "--inventory", "inventory.json", "--verify-report", "verify.json",
                     "--values", "values.yaml", "--strategy", strategy, "-o", output, "--out", "runbook"], tmp))


def test_plan_cutover_endless_input_is_bounded() -> None:
    with tempfile.TemporaryDirectory() as d:
        _clean(_run(["plan-cutover", "--inventory", "/dev/zero", "--verify-report", "/dev/zero"], Path(d)))


proxies = st.one_of(
    st.integers(min_value=1, max_value=65535).map(lambda p: f"http://127.0.0.1:{p}"),
    st.sampled_from(["http://127.0.0.1:0", "http://127.0.0.1:99999", "http://[::1]:1", "socks5://127.0.0.1:1",
                     "127.0.0.1", "http://", "", "http://127.0.0.1:1/path?q", "http://u:p@127.0.0.1:1",
                     "ftp://127.0.0.1:1", "http://127.0.0.1:-1", "http://[::1", "http://127.0.0.1:1/\u00e9"]),
)
numbers = st.sampled_from(["0", "-1", "0.001", "nan", "inf", "1e309", "abc", "3", "", "2"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=proxies, new=proxies, timeout=numbers, concurrency=numbers, targets=documents,
       output=st.sampled_from(["table", "json", "junit", "markdown", "yaml"]))
def test_verify_any_option_values(old: str, new: str, timeout: str, concurrency: str, targets: bytes,
                                  output: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "targets.txt").write_bytes(targets)
        _clean(_run(["verify", "--old", old, "--new", new, "--timeout", timeout, "--concurrency", concurrency,
                     "--deadline", "5", "--max-probes", "50", "--targets", "targets.txt", "-o", output], tmp))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(region=st.one_of(st.sampled_from(["us-east-1", "eu-west-1", "us-east-l", "", "all", "xx-fake-9"]),
                        st.text(st.characters(blacklist_characters="\x00"), max_size=12)),
       deadline=numbers, monthly_gb=numbers, output=st.sampled_from(["table", "json", "yaml", "dot", "mermaid"]))
def test_inventory_any_option_values(region: str, deadline: str, monthly_gb: str, output: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        _clean(_run(["inventory-aws", "--endpoint-url", "http://127.0.0.1:1", "--region", region,
                     "--deadline", deadline, "--monthly-gb", monthly_gb, "-o", output], Path(d)))


def test_the_judge_catches_a_traceback_and_a_runaway() -> None:
    """The check above can fail: a crash (exit 1 with a traceback) and a memory runaway are caught."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    crash = subprocess.run([sys.executable, "-c", "raise SystemExit(int('x'))"], capture_output=True, text=True,
                           timeout=WALL, check=False)
    runaway = subprocess.run([sys.executable, "-c", "b = bytearray(4 * 1024**3)"], capture_output=True,
                             text=True, timeout=WALL, preexec_fn=cap, check=False)
    for proc in (crash, runaway):
        try:
            _clean(proc)
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {proc.returncode} {proc.stderr[-300:]}")
