"""Expectation files (tinysquid.expectations) and how verify applies them: declared narrowing
becomes ``intended``, a widening never does, and a file that tries to declare one is refused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tinysquid import expectations as ex
from tinysquid.cli import app
from tinysquid.diagnostics import InputError
from tinysquid.verify.model import Answer, Decision, Method, Outcome, Probe, ProbeResult
from tinysquid.verify.run import apply_expectations, parse_proxy

runner = CliRunner()


def _doc(*entries):
    return {"schema_version": 1, "kind": "tinysquid-expectations", "entries": list(entries)}


TIGHTEN = {"id": "t1", "code": "TS404", "line": "filter:8", "reason": "r",
           "match": {"host_regex": r"pypi\.org", "host_not_regex": r"(^|\.)pypi\.org$"},
           "old": ["allowed"], "new": ["denied"]}
META = {"id": "m", "code": "TS300", "match": {"host_in": ["169.254.0.0/16"]}, "old": ["allowed"], "new": ["denied"]}


def _result(probe, old, new, outcome):
    return ProbeResult(1, probe, (Answer("old", 200, old),), Answer("new", 403, new), outcome)


@pytest.mark.parametrize(("host", "old", "new", "outcome", "intended"), [
    ("notpypi.org", Decision.ALLOWED, Decision.DENIED, Outcome.NARROWED, True),
    ("pypi.org.evil.example", Decision.ALLOWED, Decision.DENIED, Outcome.NARROWED, True),
    ("www.pypi.org", Decision.ALLOWED, Decision.DENIED, Outcome.NARROWED, False),  # the anchored form admits it
    ("notpypi.org", Decision.DENIED, Decision.ALLOWED, Outcome.WIDENED, False),    # a widening: never
    ("notpypi.org", Decision.ALLOWED, Decision.AUTH_REQUIRED, Outcome.NARROWED, False),  # other class
    ("169.254.169.254", Decision.ALLOWED, Decision.DENIED, Outcome.NARROWED, True),
    ("169.255.0.1", Decision.ALLOWED, Decision.DENIED, Outcome.NARROWED, False),
])
def test_apply_expectations(host, old, new, outcome, intended):
    exp = ex.parse(_doc(TIGHTEN, META))
    result = apply_expectations(_result(Probe(Method.CONNECT, host, 443), old, new, outcome), exp)
    assert (result.outcome is Outcome.INTENDED) is intended
    if intended:
        assert result.expectation in ("t1", "m") and result.note.startswith("declared: TS")
    else:
        assert result.outcome is outcome


@pytest.mark.parametrize(("entry", "widening"), [
    ({**TIGHTEN, "new": ["allowed"]}, True),
    ({**TIGHTEN, "old": ["denied"], "new": ["allowed", "denied"]}, True),
    ({**TIGHTEN, "match": {}}, False),                 # would match every probe
    ({**TIGHTEN, "match": {"host_regex": "("}}, False),
    ({**TIGHTEN, "match": {"hosts": "x"}}, False),
    ({**TIGHTEN, "old": ["error"]}, False),
    ({**TIGHTEN, "match": {"ports": [0]}}, False),
    ({**TIGHTEN, "match": {"host_in": ["not a net"]}}, False),
    ({k: v for k, v in TIGHTEN.items() if k != "id"}, False),
])
def test_bad_entries_are_refused(entry, widening):
    with pytest.raises(ex.ExpectationError) as info:
        ex.parse(_doc(entry))
    assert info.value.widening is widening


def test_writer_cannot_emit_a_widening_either():
    with pytest.raises(ex.ExpectationError):
        ex.entry("x", "TS000", "l", "r", {"host_regex": "a"}, old=("denied",), new=("allowed",))


def test_cli_refuses_a_widening_expectation_before_probing(tmp_path):
    bad = tmp_path / "expect.json"
    bad.write_text(json.dumps(_doc({**TIGHTEN, "new": ["allowed"]})))
    targets = tmp_path / "t.txt"
    targets.write_text("CONNECT a.example:443\n")
    result = runner.invoke(app, ["verify", "--old", "http://127.0.0.1:1", "--new", "http://127.0.0.1:2",
                                 "--targets", str(targets), "--expect", str(bad)])
    assert result.exit_code == 2 and "TS515" in result.stderr and "widening" in result.stderr
    bad.write_text("{not json")
    result = runner.invoke(app, ["verify", "--old", "http://127.0.0.1:1", "--new", "http://127.0.0.1:2",
                                 "--targets", str(targets), "--expect", str(bad)])
    assert result.exit_code == 2 and "TS514" in result.stderr


def test_record_matching_for_plan(tmp_path):
    exp = ex.parse(_doc(TIGHTEN))
    rec = {"method": "GET", "host": "notpypi.org", "port": 80, "target": "http://notpypi.org/",
           "old": [{"class": "allowed"}], "new": {"class": "denied"}, "result": "narrowed"}
    assert exp.find_record(rec) is not None
    assert exp.find_record({**rec, "new": {"class": "allowed"}}) is None
    assert exp.find_record({**rec, "old": [{"class": "allowed"}, {"class": "denied"}]}) is None


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://10.0.0.5:8888", "scheme"),
    ("https://10.0.0.5:8888", "scheme"),
    ("http://10.0.0.5", "no port"),
    ("10.0.0.5", "no port"),
    ("http://10.0.0.5:0", "no port"),
    ("http://10.0.0.5:99999", "1-65535"),
    ("http://10.0.0.5:8888/path", "no path"),
    ("http://10.0.0.5:8888?x=1", "no path"),
    ("http://bad_host!:8888", "not an IP address or a host name"),
    ("http://:8888", "no host"),
    ("", "empty"),
])
def test_proxy_urls_are_validated_before_probing(url, why):
    with pytest.raises(InputError) as info:
        parse_proxy(url, "old", None)
    assert info.value.diagnostic.code == "TS504" and why in info.value.diagnostic.message


@pytest.mark.parametrize(("url", "host", "port"), [
    ("http://10.0.0.5:8888", "10.0.0.5", 8888), ("127.0.0.1:18888", "127.0.0.1", 18888),
    ("http://[::1]:3128", "::1", 3128), ("HTTP://squid.egress.svc:3128/", "squid.egress.svc", 3128),
])
def test_good_proxy_urls(url, host, port):
    target = parse_proxy(url, "new", None)
    assert (target.host, target.port) == (host, port)


def test_secret_in_a_bad_proxy_url_is_not_echoed():
    with pytest.raises(InputError) as info:
        parse_proxy("http://alice:s3cret@10.0.0.5", "old", None)
    assert "s3cret" not in info.value.diagnostic.message


def test_plan_gate_blocks_an_intended_claim_no_entry_declares(tmp_path):
    from tinysquid.plan.checks import check_verify

    probe = {"method": "GET", "host": "notpypi.org", "port": 80, "target": "http://notpypi.org/",
             "old": [{"class": "allowed"}], "new": {"class": "denied"}}
    summary = {"total": 1, "agree": 0, "widened": 0, "narrowed": 0, "changed": 0, "noisy": 0, "errors": 0,
               "intended": 1}
    declared = {"schema_version": 1, "summary": summary, "probes": [{**probe, "result": "intended"}], "expect": _doc(TIGHTEN)}
    assert check_verify(declared, "v.json")[0].status.value == "pass"
    forged = {**declared, "expect": _doc({**TIGHTEN, "match": {"host_regex": "^nothing$"}})}
    c = check_verify(forged, "v.json")[0]
    assert c.status.value == "fail" and c.blocking
    # a narrowed probe of a run without --expect, with expect.json given to the gate
    path = tmp_path / "expect.json"
    path.write_text(json.dumps(_doc(TIGHTEN)))
    strict = {"schema_version": 1, "summary": {**summary, "narrowed": 1, "intended": 0}, "probes": [{**probe, "result": "narrowed"}]}
    assert check_verify(strict, "v.json")[0].status.value == "fail"
    assert check_verify(strict, "v.json", str(path))[0].status.value == "pass"
