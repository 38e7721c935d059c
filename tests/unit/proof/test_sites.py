"""The proof of upstream sites and client host names (TS805–TS808): verdicts for known shapes, the
squid side is what the renderer writes, a witness masked by other routes is not reported as one,
and --strict fails on witness/unproven."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tinysquid.convert import ConvertOptions, convert_file
from tinysquid.diagnostics import ExitCode
from tinysquid.policy import ir
from tinysquid.proof import sites
from tinysquid.squid.upstream import site_acl_terms

K = ir.SiteKind
S = ir.SiteMatch


@pytest.mark.parametrize("site,want", [
    (S(K.EXACT_HOST, "api.example.com"), ("equivalent", None)),
    (S(K.SUBDOMAINS, "example.com"), ("equivalent", None)),
    (S(K.EXACT_HOST, "under_score.example"), ("equivalent", None)),
    (S(K.EXACT_HOST, "*.example.com"), ("equivalent", None)),  # a literal '*': no host on either side
    (S(K.TRAILING_DOT, "."), ("equivalent", None)),  # no host in the domain ends with a dot
    (S(K.EXACT_HOST, "trail.example."), ("witness", "trail.example")),
    (S(K.SUBDOMAINS, ".example.com"), ("witness", "a.example.com")),
    (S(K.IP_NETWORK, "10.0.0.0/8"), ("equivalent", None)),
    (S(K.IP_NETWORK, "0.0.0.0/0"), ("equivalent", None)),  # written as two halves for squid
    (S(K.IP_NETWORK, "fd00::/8"), ("equivalent", None)),
    (S(K.IP_NETWORK, "192.0.2.7/32"), ("equivalent", None)),
    (S(K.ANY_HOST, "::/0"), ("equivalent", None)),
])
def test_site_verdicts(site, want):
    v = sites.prove_site(site)
    assert (v.proof, v.subject) == want, v
    if v.proof == "witness":
        assert v.request == f"GET http://{v.subject}/" and not v.tinyproxy_matches


def test_network_difference_is_a_witness(monkeypatch):
    # the emitted dst values are read, not assumed: a wrong value gives an address witness
    def wrong(site):
        return (("ts_ip_literal", "dstdom_regex", ("-n", "-i"), ()), ("", "dst", (), ("10.0.0.0/9",)))
    monkeypatch.setattr(sites, "site_acl_terms", wrong)
    sites.prove_site.cache_clear()
    try:
        v = sites.prove_site(S(K.IP_NETWORK, "10.0.0.0/8"))
    finally:
        sites.prove_site.cache_clear()
    assert v.proof == "witness" and v.subject == "10.128.0.0" and v.tinyproxy_matches


def _convert(tmp_path: Path, text: str):
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text("Port 8888\n" + text)
    res = convert_file(conf, ConvertOptions())
    return res, json.loads(res.files["report.json"].text)


def test_squid_side_is_what_the_renderer_writes(tmp_path):
    res, _ = _convert(tmp_path, 'upstream http 127.0.0.1:3129 ".a.example"\nupstream none "B.example"\n'
                                'upstream none "10.0.0.0/8"\nupstream none "0.0.0.0/0"\n')
    conf = res.files["squid.conf"].text
    assert res.policy is not None
    routes = res.policy.upstream.routes
    for i, route in enumerate(routes, 1):
        for suffix, acl_type, flags, values in site_acl_terms(route.site):
            if suffix:
                continue
            line = " ".join(["acl", f"ts_up_site_{i}", acl_type, *flags, *values])
            assert re.search("^" + re.escape(line) + "$", conf, re.M), (line, conf)


def test_report_strict_and_masking(tmp_path):
    _res, doc = _convert(tmp_path, 'upstream http 127.0.0.1:3129 ".example.com"\n'
                                  'upstream http 127.0.0.1:3129 "x.example.com."\n')
    by_line: dict[int, list[dict]] = {}
    for f in doc["findings"]:
        by_line.setdefault(f.get("line") or 0, []).append(f)
    assert any(f.get("data", {}).get("proof") == "equivalent" for f in by_line[2])
    # the routes are evaluated last rule first (tinyproxy's order): x.example.com matches ".example.com"
    # on both sides and goes to the same parent, so the trailing-dot difference is not observable
    f3 = [f for f in by_line[3] if f["code"] in ("TS805", "TS806")]
    assert [f["code"] for f in f3] == ["TS806"] and "same place" in f3[0]["message"]
    res2, doc2 = _convert(tmp_path, 'upstream http 127.0.0.1:3129 "..example.com"\n')
    f = next(f for f in doc2["findings"] if f["code"] == "TS805")
    assert f["data"]["witness"] == "GET http://a.example.com/"
    assert f["data"]["tinyproxy_route"].startswith("direct") and "3129" in f["data"]["squid_route"]
    assert res2.report.exit_code(strict=True) is ExitCode.FINDINGS
    from tinysquid.verify.probes import witness_probes

    assert res2.policy is not None
    probes = witness_probes(res2.policy, http_port=8080)
    assert [(p.method.value, p.host, p.port, p.origin) for p in probes] == [("GET", "a.example.com", 8080, "witness")]


def _rule(action, name):
    return ir.ClientRule(action, ir.ClientHostname(name))


def test_client_names():
    allow, deny = ir.Action.ALLOW, ir.Action.DENY
    v = sites.prove_client(_rule(allow, ".corp.example"), (), ())
    assert v.proof == "witness" and v.subject == "client.corp.example" and v.tinyproxy_matches
    # squid admits every address by number: the dropped Allow decides nothing there
    assert sites.prove_client(_rule(allow, ".corp.example"), (), None).proof == "unproven"
    assert sites.prove_client(_rule(deny, ".bad.example"), (), None).proof == "equivalent"
    v = sites.prove_client(_rule(deny, "bad.example"), (), None)
    assert v.proof == "unproven" and "resolves" in v.reason  # the forward lookup has no model
    v = sites.prove_client(_rule(deny, ".one"), (), None)
    assert v.proof == "equivalent"
    v = sites.prove_client(_rule(deny, "one"), (), None)
    assert v.proof == "unproven" and "'none'" in v.reason  # squid tests "none" without reverse DNS


def test_client_findings_in_the_report(tmp_path):
    res, doc = _convert(tmp_path, "Allow 127.0.0.1\nAllow .corp.example\nDeny .bad.example\n")
    codes = {f["line"]: f for f in doc["findings"] if f["code"] in ("TS807", "TS808")}
    assert codes[3]["code"] == "TS807" and codes[3]["data"]["direction"] == "narrowing"
    assert 4 not in codes and any(f.get("data", {}).get("proof") == "equivalent"
                                  for f in doc["findings"] if f.get("line") == 4)
    assert res.report.exit_code(strict=True) is ExitCode.FINDINGS
