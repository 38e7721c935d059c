"""Hardening pass: fills policy.hardening and reports one hardening finding per measure."""

from __future__ import annotations

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Status
from tinysquid.policy import ir
from tinysquid.policy.passes.harden import filedescriptor_cap, harden
from tinysquid.squid import render


def test_harden_fills_and_reports() -> None:
    report = Report()
    out = harden(ir.Policy(listener=ir.Listener(8888)), report, squid_version="5")
    h = out.hardening
    assert {str(n) for n in h.deny_destinations} >= {"169.254.0.0/16", "fe80::/10"}
    assert h.manager_localhost_only
    assert h.max_filedescriptors == 65536
    assert [d.code for d in report] == ["TS300", "TS301", "TS302"]
    assert all(d.status is Status.HARDENING and d.subject for d in report)
    assert report.exit_code(strict=True) == 0  # hardening never fails --strict


def test_fd_cap_grows_with_max_clients() -> None:
    assert filedescriptor_cap(100) == 65536
    assert filedescriptor_cap(50000) == 262144


def test_rendered_hardening_lines() -> None:
    out = harden(ir.Policy(listener=ir.Listener(8888)), Report(), squid_version="6")
    text = render.render_squid_conf(out, report=Report())
    assert "acl ts_deny_dst dst fe80::/10 169.254.0.0/16 fd00:ec2::254" in text
    assert "http_access deny ts_deny_dst" in text
    assert "max_filedescriptors 65536" in text
    assert "to_linklocal" not in text  # 5.7 has no such built-in
