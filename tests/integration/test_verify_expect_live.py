"""Declared differences end to end, on the bundled example (examples/egress-allowlist):
``convert --tighten`` → the real squid on its squid.conf, the real tinyproxy on the original config
→ ``verify --config --expect expect.json`` → exit 0 with the tightened look-alikes counted
``intended`` → ``plan-cutover`` does not block on them. Without ``--expect`` the same run is
``narrowed`` (exit 1) — the tool's own advice no longer blocks its own gate, and nothing else is
waved through.

Only where the example points outside the lab is it changed: the Filter path (into the lab dir) and
the corporate parent (a loopback parent that answers 200 and keeps tunnels open). Every probe host
is mapped to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.server
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration.harness import _serving
from tinysquid.cli import app
from tinysquid.convert import ConvertOptions, SquidVersion, convert_file
from tinysquid.verify.model import Method, Probe
from tinysquid.verify.probes import from_policy, hosts_of

pytestmark = pytest.mark.integration
runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "egress-allowlist"


class _Parent(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def do_CONNECT(self) -> None:
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.connection.settimeout(5)
        with contextlib.suppress(OSError):
            while self.connection.recv(4096):
                pass

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def parent() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Parent)
    server.daemon_threads = True
    with _serving(server) as port:
        yield port


def test_tighten_example_verify_expect_then_plan(tinyproxy_bin, squid_bin, lab, tmp_path):
    with parent() as parent_port:
        text = (EXAMPLE / "tinyproxy.conf").read_text()
        text = text.replace('"/etc/tinyproxy/filter"', '"@WORKDIR@/filter"')
        text = text.replace("parent.corp.example:3128", f"127.0.0.1:{parent_port}")
        lab.write("filter", (EXAMPLE / "filter").read_text())
        conf = lab.write("tinyproxy.conf", text)

        out = tmp_path / "out"
        converted = runner.invoke(app, ["convert", str(conf), "--out-dir", str(out), "--tighten", "--squid-version", "5"])
        assert converted.exit_code in (0, 1), converted.output
        expect = out / "expect.json"
        doc = json.loads(expect.read_text())
        assert doc["apiVersion"] == "tinysquid/v1" and doc["kind"] == "Expectations" and doc["schema_version"] == 1
        tightened = [e for e in doc["entries"] if e["code"] == "TS404"]
        assert {e["match"]["host_regex"] for e in tightened} == {r"pypi\.org", r"files\.pythonhosted\.org"}
        assert all("allowed" not in e["new"] for e in doc["entries"])
        assert [e["id"] for e in doc["entries"] if e["code"] == "TS300"] == ["hardening-metadata"]

        policy = convert_file(conf, ConvertOptions(squid_version=SquidVersion.V5)).policy
        lab.hosts.update(hosts_of([*from_policy(policy), Probe(Method.GET, "x.example", 80)]))
        tp = lab.start_tinyproxy(text)
        sq = lab.start_squid((out / "squid.conf").read_text())
        base = ["verify", "--old", tp.url, "--new", sq.url, "--config", str(conf), "--timeout", "4",
                "--deadline", "120"]

        strict_report = tmp_path / "strict.json"
        strict = runner.invoke(app, [*base, "--report", str(strict_report), "-o", "json"])
        strict_doc = json.loads(strict.stdout)
        narrowed = {p["host"] for p in strict_doc["probes"] if p["result"] == "narrowed"}
        assert strict.exit_code == 1, (strict_doc["summary"], narrowed)
        assert narrowed and all("pypi" in h or "pythonhosted" in h for h in narrowed), narrowed

        report = tmp_path / "verify.json"
        declared = runner.invoke(app, [*base, "--expect", str(expect), "--report", str(report), "-o", "json"])
        vdoc = json.loads(declared.stdout)
        s = vdoc["summary"]
        assert declared.exit_code == 0, (s, [p for p in vdoc["probes"] if p["result"] not in ("agree", "intended")])
        assert s["intended"] == strict_doc["summary"]["narrowed"] and s["narrowed"] == s["widened"] == s["errors"] == 0
        intended = [p for p in vdoc["probes"] if p["result"] == "intended"]
        assert {p["host"] for p in intended} == narrowed
        assert all(p["expectation"].startswith("tighten-") and "TS404" in p["note"] for p in intended)
        assert vdoc["expect"]["path"] == str(expect) and len(vdoc["expect"]["sha256"]) == 64
        assert "TS516" in [p["code"] for p in vdoc["problems"]]
        table = runner.invoke(app, [*base, "--expect", str(expect)], env={"COLUMNS": "250"})
        assert table.exit_code == 0 and f"{s['intended']} intended" in table.stdout.splitlines()[-1]

    # plan-cutover: the report made with --expect passes the verify gate ...
    plan = runner.invoke(app, ["plan-cutover", "--verify-report", str(report), "-o", "json"])
    check = next(c for c in json.loads(plan.stdout)["checks"] if c["id"] == "verify")
    assert check["status"] == "pass", check
    assert any(e.startswith("intended (declared): intended") for e in check["evidence"])
    # ... and so does the strict report when the expectation file sits beside the values (convert's out dir)
    plan = runner.invoke(app, ["plan-cutover", "--verify-report", str(strict_report), "--values",
                               str(out / "values.yaml"), "-o", "json"])
    check = next(c for c in json.loads(plan.stdout)["checks"] if c["id"] == "verify")
    assert check["status"] == "pass", check
    # without any expectations the strict report still blocks
    plan = runner.invoke(app, ["plan-cutover", "--verify-report", str(strict_report), "-o", "json"])
    check = next(c for c in json.loads(plan.stdout)["checks"] if c["id"] == "verify")
    assert check["status"] == "fail" and check["blocking"]
