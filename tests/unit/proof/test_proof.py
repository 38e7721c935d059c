"""The per-entry proof: fast-path lemmas agree with the automata, known differences give the right
witness and direction, convert records every verdict, and --strict fails on witness/unproven."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tinysquid.convert import ConvertOptions, convert_file
from tinysquid.diagnostics import ExitCode
from tinysquid.policy import automata as fa
from tinysquid.policy import ir
from tinysquid.proof import check as pc
from tinysquid.squid.acls import AclValue

ERE, BRE, FNM = ir.PatternSyntax.ERE, ir.PatternSyntax.BRE, ir.PatternSyntax.FNMATCH
HOST, URL = ir.MatchSubject.HOST, ir.MatchSubject.URL


def _by_automata(source, syntax, cs, values, subject):
    left = pc._tinyproxy_nfa(source, syntax, cs)
    right, _ = pc._squid_nfa(values, subject)
    return all(fa.compare(left, right, d).witness is None for d in pc._domains(subject))


def test_lemmas_agree_with_the_automata():
    rng = random.Random(3)
    for _ in range(60):
        name = ".".join("".join(rng.choice("abZ09_-") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3)))
        esc = name.replace(".", "\\.")
        cases = [(f"^{esc}$", BRE, (AclValue("dstdomain", name.lower(), ("-n",)),)),
                 (f"(^|\\.){esc}$", ERE, (AclValue("dstdomain", "." + name.lower(), ("-n",)),)),
                 (f"\\.{esc}$", ERE, (AclValue("dstdom_regex", f"\\.{esc.lower()}$", ("-n", "-i")),)),
                 (f"^x[0-9]+{esc}$", ERE, (AclValue("dstdom_regex", f"^x[0-9]+{esc}$", ("-n", "-i")),))]
        for source, syntax, values in cases:
            lemma = pc._domain_lemma(source, syntax, False, values) or pc._same_text_lemma(source, syntax, False, values, HOST)
            assert lemma, source
            assert _by_automata(source, syntax, False, values, HOST), source


def test_lemma_refuses_a_wrong_value():
    assert not pc._domain_lemma("^a\\.com$", BRE, False, (AclValue("dstdomain", ".a.com", ("-n",)),))
    assert not pc._domain_lemma("(^|\\.)a\\.com$", BRE, False, (AclValue("dstdomain", ".a.com", ("-n",)),))  # BRE: ( | ) literal
    v = pc.prove("^a\\.com$", BRE, False, (AclValue("dstdomain", ".a.com", ("-n",)),), HOST)
    assert v.proof == "witness" and v.subject == "a.a.com" and not v.tinyproxy_matches


@pytest.mark.parametrize("source,syntax,cs,values,want", [
    # squid strips a leading ^.* ("unnecessary wildcard"): ?foo does not compile and is skipped
    ("^.*?foo", ERE, False, (AclValue("dstdom_regex", "^.*?foo", ("-n", "-i")),), ("witness", "foo", True)),
    ("^.*?foo", ERE, False, (AclValue("dstdom_regex", "^(.*)?foo", ("-n", "-i")),), ("equivalent", None, False)),
    # an empty fnmatch range rendered as [^\s\S] matched nearly everything in POSIX
    ("[9-0]", FNM, True, (AclValue("dstdom_regex", "^[^\\s\\S]$", ("-n",)),), ("witness", "g", False)),
    ("[9-0]", FNM, True, (AclValue("dstdom_regex", "^($.)$", ("-n",)),), ("equivalent", None, False)),
    # squid lower-cases the host: a case-sensitive upper-case pattern never matches there
    ("^Mixed\\.Example\\.com$", BRE, True, (AclValue("dstdom_regex", "^Mixed\\.Example\\.com$", ("-n",)),),
     ("witness", "Mixed.Example.com", True)),
    ("\\(a\\)\\1", BRE, False, (AclValue("dstdom_regex", "(a)\\1", ("-n", "-i")),), ("unproven", None, False)),
])
def test_known_verdicts(source, syntax, cs, values, want):
    v = pc.prove(source, syntax, cs, values, HOST)
    assert (v.proof, v.subject, v.tinyproxy_matches) == want, v


def test_direction_and_refusing_side():
    allow = ir.DestPolicy(HOST, ir.Action.DENY)
    block = ir.DestPolicy(HOST, ir.Action.ALLOW)
    v = pc.Verdict("witness", subject="a", request="GET http://a/", tinyproxy_matches=True)
    assert (v.refused_by(allow), v.direction(allow)) == ("squid", "narrowing")
    assert (v.refused_by(block), v.direction(block)) == ("tinyproxy", "widening")


def _convert(tmp_path: Path, filter_text: str, extra: str = "") -> tuple:
    (tmp_path / "filter").write_text(filter_text)
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nFilter "filter"\n{extra}')
    res = convert_file(conf, ConvertOptions())
    return res, json.loads(res.files["report.json"].text)


def _filter_findings(doc: dict) -> dict[int, list[dict]]:
    by_line: dict[int, list[dict]] = {}
    for f in doc["findings"]:
        if f.get("file", "").endswith("filter"):
            by_line.setdefault(f["line"], []).append(f)
    return by_line


def test_report_records_every_verdict_and_strict_fails(tmp_path):
    # a case-sensitive blocklist entry: squid's host is lower-cased, so it also blocks CASINO.x
    res, doc = _convert(tmp_path, "^casino\\.\n", "FilterCaseSensitive On\n")
    line = _filter_findings(doc)[1]
    w = [f for f in line if f["code"] == "TS802"]
    assert w, line
    assert w[0]["data"]["witness"].startswith("GET http://") and w[0]["data"]["witness"] != "GET http://casino.a/"
    assert w[0]["data"]["direction"] == "narrowing" and w[0]["data"]["refused_by"] == "squid"
    assert w[0]["data"]["witness"] in w[0]["message"]
    assert not any(f.get("status") == "exact" for f in line)
    assert res.report.exit_code(strict=True) is ExitCode.FINDINGS
    res2, doc2 = _convert(tmp_path, "^api\nexample\n")
    for lineno in (1, 2):
        assert any(f.get("data", {}).get("proof") == "equivalent" and f["status"] == "exact"
                   for f in _filter_findings(doc2)[lineno])
    assert res2.report.exit_code(strict=True) is ExitCode.OK
    # an end anchor can tell 'api.example.com.' (tinyproxy) from 'api.example.com' (squid): never exact
    _res3, doc3 = _convert(tmp_path, "^api\\.example\\.com$\n")
    assert not any(f.get("status") == "exact" for f in _filter_findings(doc3)[1])
    assert any(f["code"] == "TS293" for f in _filter_findings(doc3)[1])


def test_case_sensitive_blocklist_is_a_narrowing_now_squid_blocks_every_spelling(tmp_path):
    # [[:upper:]] in a case-sensitive blocklist: squid never sees the host's case, so the emission
    # layer blocks every spelling (TS287); the proof must see the narrowing, refused by squid.
    _res, doc = _convert(tmp_path, "[[:upper:]]\n", "FilterCaseSensitive On\n")
    f = next(f for f in doc["findings"] if f["code"] == "TS802")
    assert f["data"]["direction"] == "narrowing" and f["data"]["refused_by"] == "squid"
    assert not any(f["code"] in ("TS801", "TS804") for f in doc["findings"])


def test_widening_is_reported_with_tinyproxy_refusing(tmp_path):
    # a case-sensitive allowlist: tinyproxy refuses API.EXAMPLE.COM, squid lower-cases it and admits it
    _res, doc = _convert(tmp_path, "^api\\.example\\.com$\n", "FilterCaseSensitive On\nFilterDefaultDeny Yes\n")
    f = next(f for f in doc["findings"] if f["code"] in ("TS801", "TS804"))
    assert f["data"]["direction"] == "widening" and f["data"]["refused_by"] == "tinyproxy"
    assert not any(x.get("status") == "exact" for x in _filter_findings(doc)[1])


def test_255_nested_groups_convert(tmp_path):
    _res, doc = _convert(tmp_path, "(" * 250 + "a" + ")" * 250 + "\n", "FilterType ere\n")
    assert any(f.get("data", {}).get("proof") for f in doc["findings"])


def test_masked_witness_is_replaced_or_unproven():
    # entry 2 alone differs on A.com (squid never sees upper case), but squid admits A.com through
    # entry 1 (lower-cased first): no request tells the filters apart there, so no witness for it
    dest = ir.DestPolicy(HOST, ir.Action.DENY, (
        ir.DestPattern("^a\\.com$", True, BRE, "^a\\.com$"),
        ir.DestPattern("^A\\.com$", True, BRE, "^A\\.com$"),
    ))
    verdicts = pc.prove_destinations(dest)
    assert [v.proof for v in verdicts] == ["witness", "unproven"]
    assert "other entries" in verdicts[1].reason
    whole = pc._Filter(dest, [pc.dest_acl_values(p, dest) for p in dest.patterns])
    tp, sq = whole.sides(verdicts[0].subject)
    assert tp != sq  # a policy-level difference, not only an entry-level one


@pytest.mark.parametrize("source,block,want", [
    # squid tests "[::1]" for every spelling; tinyproxy the spelling sent (brackets stripped)
    ("^0::1$", False, ("witness", "0::1", "[::1]")),
    ("^::1$", False, ("witness", "0::1", "[::1]")),  # squid's re-anchored ^\[::1\]$ admits 0::1 too
    ("::1", True, ("witness", "::0:1", "[::1]")),
    # every spelling is compared (proof/ipv6.py): tinyproxy sees the dotted tail, squid "[::cafe]"
    ("cafe", True, ("witness", "::0.0.202.254", "[::cafe]")),
    (".", False, ("equivalent", None, None)),  # every IPv6 literal on both sides
    ("^[a-z][a-z]*\\.example$", False, ("equivalent", None, None)),  # no IPv6 literal on either side
])
def test_ipv6_literals_are_compared(source, block, want):
    dest = ir.DestPolicy(HOST, ir.Action.ALLOW if block else ir.Action.DENY, (ir.DestPattern(source, False, BRE, source),))
    v = pc.prove_destinations(dest)[0]
    assert (v.proof, v.subject, v.seen) == want, v
    if v.proof == "witness":
        assert v.request == f"GET http://[{v.subject}]/"
        assert pc.is_local_witness(v.subject) == (source != "cafe")


def test_a_non_local_ipv6_witness_is_reported_not_probed(tmp_path):
    from tinysquid.verify.probes import witness_probes

    res, doc = _convert(tmp_path, "127.0.0.1\n", "FilterDefaultDeny Yes\n")
    f = next(f for f in doc["findings"] if f["code"] == "TS809")  # unconfirmed: a warning
    assert f["data"]["proof"] == "witness" and f["data"]["witness"].startswith("GET http://[")
    assert f["data"]["probed"] is False and not res.report.errors()
    assert "does not send it" in f["message"]
    assert res.policy is not None and witness_probes(res.policy) == []


def test_url_mode_compares_request_spellings(tmp_path):
    # squid's URL for "GET http://ads.example" (no path) is "http://ads.example/": the blocklist
    # entry refuses it in squid only
    res, doc = _convert(tmp_path, "^http://ads\\.example/\n", "FilterURLs On\nFilterType ere\n")
    f = next(f for f in doc["findings"] if f["code"] == "TS802")
    assert f["data"]["witness"] == "GET http://ads.example" and f["data"]["refused_by"] == "squid"
    from tinysquid.verify.probes import witness_probes

    assert res.policy is not None
    assert [p.raw for p in witness_probes(res.policy)] == ["http://ads.example"]  # sent verbatim
    (tmp_path / "b").mkdir()
    _res, doc = _convert(tmp_path / "b", "^http://[^/]*/private/\n", "FilterURLs On\nFilterType ere\n")
    f = next(f for f in doc["findings"] if f["code"] == "TS803")
    assert f["data"]["proof"] == "unproven" and "not compared: %-escapes" in f["data"]["reason"]


@pytest.mark.parametrize("version,want", [(None, "witness"), ("7", "unproven")])
def test_a_connect_without_a_port_is_a_witness_before_squid_7(version, want):
    from tinysquid.options import SquidVersion

    # an allowlist: a blocklist entry is widened to block squid's `:443` form too (TS291)
    pat = "^[0-9.]+:443$"
    dest = ir.DestPolicy(ir.MatchSubject.URL, ir.Action.DENY, (ir.DestPattern(pat, False, ERE, pat),))
    v = pc.prove_destinations(dest, SquidVersion(version) if version else None)[0]
    assert v.proof == want
    if want == "witness":
        assert (v.request, v.seen, v.refused_by(dest)) == ("CONNECT 0.0.0.0", "0.0.0.0:443", "tinyproxy")


@pytest.mark.parametrize("filter_text,extra,code", [
    ("10.137.255.254\n", "", "TS809"),  # an IPv6 witness verify does not send: [::a89:fffe]
    ("^[0-9.]+:443$\n", "FilterURLs On\nFilterType ere\nFilterDefaultDeny Yes\n", "TS810"),  # CONNECT 0.0.0.0
])
def test_unsent_witnesses_are_warnings_that_strict_fails(tmp_path, filter_text, extra, code):
    res, doc = _convert(tmp_path, filter_text, extra)
    f = next(f for f in doc["findings"] if f["code"] == code)
    assert f["data"]["proof"] == "witness" and f["data"]["probed"] is False
    assert res.report.exit_code() is ExitCode.OK
    assert res.report.exit_code(strict=True) is ExitCode.FINDINGS


def test_large_url_filters_skip_the_spelling_comparison(monkeypatch):
    monkeypatch.setattr(pc, "MAX_IPV6_ENTRIES", 1)
    pats = tuple(ir.DestPattern(s, False, ERE, s) for s in ("^http://a\\.example/", "^http://b\\.example/"))
    verdicts = pc.prove_destinations(ir.DestPolicy(URL, ir.Action.ALLOW, pats))
    assert [v.proof for v in verdicts] == ["unproven", "unproven"] and "more than 1 entries" in verdicts[0].reason
