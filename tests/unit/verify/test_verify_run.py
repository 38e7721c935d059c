"""Run plumbing: proxy URLs, credentials, exit-code precedence, the spool's ordering."""

from __future__ import annotations

import pytest

from tinysquid.diagnostics import ExitCode, InputError, Report
from tinysquid.verify.engine import RunStats
from tinysquid.verify.model import Answer, Decision, Method, Outcome, Probe, ProbeResult
from tinysquid.verify.run import Spool, VerifyRun, parse_proxy, resolve_credentials


def test_parse_proxy_forms_and_redaction():
    p = parse_proxy("http://alice:pw@10.0.0.5:8888", "old", None)
    assert (p.host, p.port, p.display) == ("10.0.0.5", 8888, "http://10.0.0.5:8888")
    assert p.credentials is not None and p.credentials.reveal() == "alice:pw"
    assert parse_proxy("[::1]:3128", "new", None).host == "::1"
    for bad in ("ftp://x:1", "http://nohost", "x:notaport"):
        with pytest.raises(InputError) as exc:
            parse_proxy(bad, "old", None)
        assert exc.value.diagnostic.code == "TS504"


def test_credentials_from_env_never_echoed(monkeypatch):
    monkeypatch.setenv("TSQ_TEST_AUTH", "bob:hunter2")
    secret = resolve_credentials("env:TSQ_TEST_AUTH", "--old-auth")
    assert secret.reveal() == "bob:hunter2" and "hunter2" not in repr(secret)
    with pytest.raises(InputError) as exc:
        resolve_credentials("nocolon", "--old-auth")
    assert "nocolon" not in exc.value.diagnostic.message


def _result(i: int, outcome: Outcome) -> ProbeResult:
    a = Answer("old", 403, Decision.DENIED, 1.0)
    return ProbeResult(i, Probe(Method.CONNECT, f"h{i}.example", 443), (a,), a, outcome)


@pytest.mark.parametrize(("outcomes", "deadline", "expected"), [
    ([Outcome.AGREE, Outcome.NOISY], False, ExitCode.OK),
    ([Outcome.AGREE, Outcome.NARROWED], False, ExitCode.FINDINGS),
    ([Outcome.CHANGED, Outcome.ERROR], False, ExitCode.FINDINGS),
    ([Outcome.NARROWED, Outcome.WIDENED], False, ExitCode.WIDENED),
    ([Outcome.AGREE, Outcome.ERROR], False, ExitCode.INCOMPLETE),
    ([Outcome.AGREE], True, ExitCode.INCOMPLETE),
    ([Outcome.WIDENED], True, ExitCode.WIDENED),
    ([], False, ExitCode.INCOMPLETE),
])
def test_exit_code_precedence(outcomes, deadline, expected):
    spool = Spool()
    for i, o in enumerate(outcomes, start=1):
        spool.add(_result(i, o))
    old = parse_proxy("http://127.0.0.1:1", "old", None)
    run = VerifyRun([old], old, spool, RunStats(len(outcomes), not deadline, deadline, 0.1), Report(), [])
    assert run.exit_code() is expected
    spool.close()


def test_spool_streams_records_in_completion_order():
    spool = Spool()
    for i in (3, 1, 2):
        spool.add(_result(i, Outcome.WIDENED))
    assert [r["id"] for r in spool.records()] == [3, 1, 2]
    assert len(spool.shown) == 3 and spool.hidden == 0
    spool.close()


def test_warnings_from_the_config_about_the_run():
    from tinysquid.policy import ir
    from tinysquid.verify.engine import EngineOptions
    from tinysquid.verify.run import VerifyRequest, _check_policy_against_run

    policy = ir.Policy(listener=ir.Listener(8888), limits=ir.Limits(max_clients=4),
                       auth=ir.AuthPolicy((ir.BasicAuthUser("u", ir.Secret("p")),)))
    report = Report()
    _check_policy_against_run(VerifyRequest(old=["http://a:1"], new="http://b:2", engine=EngineOptions(concurrency=8)),
                              policy, report)
    assert sorted(d.code for d in report) == ["TS511", "TS512"]
    report = Report()
    _check_policy_against_run(VerifyRequest(old=["http://a:1"], new="http://b:2", old_auth=["env:X"],
                                            engine=EngineOptions(concurrency=2)), policy, report)
    assert list(report) == []
