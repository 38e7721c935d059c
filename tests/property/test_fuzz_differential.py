"""The generative differential fuzzer (issue 8, items 2 and 3), against the REAL tinyproxy 1.11.1
and the REAL squid, on loopback.

* ``test_generated_configs_never_widen_and_every_difference_is_reported``: hypothesis generates
  tinyproxy configs (filters in BRE/ERE/fnmatch/URL mode, FilterCaseSensitive, FilterDefaultDeny,
  Allow/Deny, upstream incl. ``none``, ConnectPort, BasicAuth) and probes (case, odd IPv4
  spellings, IPv6, trailing dots, %-escapes, manager paths, userinfo, latin-1 bytes); each config
  goes through ``convert``; both proxies answer every probe. Fails on ANY widened probe (tinyproxy
  refuses, squid allows) and on any difference that no non-``exact`` finding of report.json
  explains on a line that can have caused it (see ``fuzz_check``). Fixed seed (derandomize), a
  measured example count, per-probe and per-case bounds. The classes still open in other branches
  are left out of generation ONLY through ``fuzz_strategies.KNOWN_OPEN``.
* ``test_regression_case``: every counterexample the fuzzer ever found, minimised, replayed through
  both real proxies (tests/regressions/differential/*.json). A case whose fix lives in another
  branch is ``xfail(strict=True)`` naming its class: an unexpected pass fails, so the marker (and
  the class in KNOWN_OPEN) must be removed when the fix lands.
* The judge itself can fail: a deliberately widened squid.conf and a report that calls everything
  exact are both caught.

The long mode (20,000 configs, several workers) is ``benchmarks/fuzz_differential.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import REPO, require_binary
from tests.property import fuzz_strategies as fs
from tests.property.fuzz_check import World, judge

pytestmark = pytest.mark.integration

REGRESSIONS = REPO / "tests" / "regressions" / "differential"
#: Measured on 2 busy shared cores: ~1-2 configs/s in one process, so 150 configs take ~2 minutes
#: (derandomized: the same 150 every run).
CI_EXAMPLES = 150


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """One Lab (origin, fake parent, echo) for every case of this module."""
    for name in ("tinyproxy", "squid", "unshare"):
        require_binary(name)
    with World() as w:
        yield w


# --------------------------------------------------------------------------- the fuzzer


@pytest.mark.timeout(900)
@settings(max_examples=CI_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(case=fs.cases())
def test_generated_configs_never_widen_and_every_difference_is_reported(world, case):
    verdict = judge(world, case)
    assert not verdict.failed, f"{verdict.explain()}\ncase: {case.dumps()}"


# --------------------------------------------------------------------------- regression store


def _load_regressions() -> list[tuple[str, dict]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted(REGRESSIONS.glob("*.json"))]


def _params() -> list:
    out = []
    for name, doc in _load_regressions():
        marks = []
        if doc.get("xfail"):
            marks.append(pytest.mark.xfail(strict=True, reason=f"[{doc['class']}] {doc['xfail']}"))
        out.append(pytest.param(name, doc, marks=marks, id=name))
    return out


@pytest.mark.parametrize(("name", "doc"), _params())
def test_regression_case(world, name, doc):
    case = fs.Case.from_json(doc["case"])
    verdict = judge(world, case)
    assert verdict.status in ("compared", "convert-refused"), verdict.explain()
    assert not verdict.failed, f"[{doc['class']}] {doc['line']}\n{verdict.explain()}"
    expect = doc.get("expect_squid")
    if expect is not None:  # what squid itself must decide (fail-closed cases tinyproxy cannot show)
        got = [new for _, new in verdict.decisions]
        assert got == expect, f"[{doc['class']}] squid decided {got}, expected {expect}: {doc['line']}"
    culprit = doc.get("culprit")
    if culprit and verdict.status == "compared" and verdict.differences:
        # the line that causes the difference must itself be reported as not exact
        on_line = [f for f in verdict.findings if Path(str(f.get("file"))).name == culprit["file"]
                   and f.get("line") == culprit["line"] and f.get("status") not in (None, "exact")]
        assert on_line, f"{culprit} causes {verdict.differences} but its report line is exact"


def test_regression_store_is_well_formed():
    docs = _load_regressions()
    assert docs, "the regression store is empty"
    xfail_classes = set()
    for name, doc in docs:
        assert re.fullmatch(r"[a-z0-9-]+", name), name
        assert doc["class"] in fs.FEATURES_OF or doc["class"] in OTHER_CLASSES, (name, doc["class"])
        assert doc["line"] and doc["found"], name
        fs.Case.from_json(doc["case"])  # loads
        if doc.get("xfail"):
            xfail_classes.add(doc["class"])
    # a class the generator produces again cannot stay xfail: its case would fail the fuzzer first
    assert xfail_classes <= fs.KNOWN_OPEN, f"xfail classes not in KNOWN_OPEN: {xfail_classes - fs.KNOWN_OPEN}"


#: Classes of stored cases that are not generator features (fixed ones, harness findings).
OTHER_CLASSES = frozenset({"fixed"})


def test_known_open_names_real_classes():
    assert not fs.KNOWN_OPEN - set(fs.FEATURES_OF), fs.KNOWN_OPEN - set(fs.FEATURES_OF)


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=fs.cases())
def test_known_open_features_are_not_generated(case):
    """The exclusion really excludes (pure: no proxies): nothing of a KNOWN_OPEN class appears."""
    conf = "\n".join(case.conf)
    entries = case.filter
    hosts = [p.host for p in case.probes]
    checks = {
        "tokenising": any(e[:1] in "\"'" or e.endswith("\\") for e in entries),
        "regex-wildcards": any(e.startswith("^.*") or e.endswith(".*$") or "\\1" in e for e in entries),
        "pcre-looking": any(a in e for e in entries for a in (".*?", ".*+", "[9-0]", "[^\\s\\S]")),
        "host-case": "FilterCaseSensitive On" in conf or any(h != h.lower() for h in hosts),
        "host-spelling": any(h in fs.LOOPBACK_SPELLINGS or h.endswith(".") or "%2e" in h for h in hosts)
                         or '."' in conf,
        "upstream-none-any": '"0.0.0.0/0"' in conf or '"127.0.0.0/8"' in conf,
        "upstream-socks": "upstream socks" in conf,
        "url-decoding": "FilterURLs On" in conf and (any("%" in p.path or "%" in p.host for p in case.probes)
                                                     or any("%" in e for e in entries)),
        "manager-path": any("squid-internal-mgr" in p.path for p in case.probes)
                        or any("squid-internal-mgr" in e for e in entries),
        "auth-rotation": len({ln.split()[1] for ln in case.conf if ln.startswith("BasicAuth")})
                         < len([ln for ln in case.conf if ln.startswith("BasicAuth")]),
        "connectport-wrap": "@ECHO_PORT_WRAPPED@" in conf,
        "client-hostname-forward": any(ln in (f"Deny {n}" for n in fs.ACL_NAMES) for ln in case.conf),
        "allowlist-spelling": 'Filter "' in conf and ("FilterDefaultDeny Yes" in conf or "FilterDefaultDeny On" in conf)
                              and (any(h.endswith(".") for h in hosts)
                                   or (("FilterType fnmatch" in conf or "FilterCaseSensitive On" in conf)
                                       and any(h != h.lower() for h in hosts))),
    }
    assert set(checks) == set(fs.FEATURES_OF)
    for klass in fs.KNOWN_OPEN:
        assert not checks[klass], f"{klass} generated although it is in KNOWN_OPEN: {case.dumps()}"


@given(case=fs.cases(known_open=frozenset()))
@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_json_round_trip(case):
    assert fs.Case.from_json(json.loads(json.dumps(case.to_json()))) == case


# --------------------------------------------------------------------------- the judge can fail

_ALLOWLIST = fs.Case(["Allow 127.0.0.1", 'Filter "@FILTER@"', "FilterDefaultDeny Yes", "FilterType ere"],
                     ["^api\\.example\\.com$"],
                     [fs.ProbeSpec("GET", "api.example.com"), fs.ProbeSpec("GET", "www.example.com"),
                      fs.ProbeSpec("GET", "api.example.com", source="127.0.0.2")])


def test_judge_catches_a_widened_squid_conf(world):
    def widen(conf: str) -> str:
        return conf.replace("# --- http_access", "http_access allow all\n# --- http_access", 1)

    verdict = judge(world, _ALLOWLIST, mutate_squid_conf=widen)
    assert verdict.status == "compared"
    assert len(verdict.widened) == 2, verdict.explain()
    assert verdict.failed


def test_judge_catches_an_unreported_difference(world):
    def narrow(conf: str) -> str:
        return conf.replace("# --- http_access", "http_access deny all\n# --- http_access", 1)

    def all_exact(findings: list) -> list:
        return [{**f, "status": "exact"} for f in findings]

    verdict = judge(world, _ALLOWLIST, mutate_squid_conf=narrow, mutate_findings=all_exact)
    assert not verdict.widened and len(verdict.dishonest) == 1, verdict.explain()
    assert verdict.failed


def test_judge_passes_the_plain_allowlist(world):
    verdict = judge(world, _ALLOWLIST)
    assert verdict.status == "compared" and verdict.probes == 3
    assert not verdict.failed and not verdict.differences, verdict.explain()
