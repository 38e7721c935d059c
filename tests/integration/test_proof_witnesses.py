"""Every witness convert's proof produces really differs through the real tinyproxy and squid.

The witnesses come from ``verify``'s witness source (the same function ``verify --config`` uses),
for the differential cases and a few adversarial filters; each is sent through both proxies on
loopback, and tinyproxy and squid must decide it differently — as the proof said.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import _fill_probe
from tests.integration.test_differential import CASES, Case, _prepare
from tinysquid.verify.model import Outcome
from tinysquid.verify.probes import hosts_of, witness_probes

pytestmark = pytest.mark.integration

EXTRA: dict[str, Case] = {
    "cs-blocklist-lower": Case("Timeout 5\nFilterCaseSensitive On\nFilter \"@FILE:filter@\"\n",
                               {"filter": "^casino\\.\n"}),
    "cs-blocklist-upper-class": Case("Timeout 5\nFilterCaseSensitive On\nFilter \"@FILE:filter@\"\n",
                                     {"filter": "[[:upper:]]\n"}),
    "cs-allowlist": Case("Timeout 5\nFilterCaseSensitive On\nFilter \"@FILE:filter@\"\nFilterDefaultDeny Yes\n",
                         {"filter": "^api\\.example\\.com$\n"}),
    # IPv6 literals: tinyproxy searches the address as sent, squid "[compressed]"; the proof tries
    # the spellings of ::1 and :: first, so these witnesses stay on this host
    "ipv6-allowlist-narrowing": Case("Timeout 5\nFilter \"@FILE:filter@\"\nFilterDefaultDeny Yes\n",
                                     {"filter": "^0::1$\n"}),
    "ipv6-allowlist-widening": Case("Timeout 5\nFilter \"@FILE:filter@\"\nFilterDefaultDeny Yes\n",
                                    {"filter": "^::1$\n"}),
    "ipv6-blocklist-unanchored": Case("Timeout 5\nFilter \"@FILE:filter@\"\n", {"filter": "::1\n"}),
}
ALL = {**{k: CASES[k] for k in ("filter-fnmatch", "filter-case-sensitive", "allowlist-bre-domains")}, **EXTRA}


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_witness_differs_through_the_real_proxies(name, tinyproxy_bin, squid_bin, lab):
    from tinysquid.convert import ConvertOptions, SquidVersion, convert_file

    case = ALL[name]
    conf_path = _prepare(lab, case)
    result = convert_file(conf_path, ConvertOptions(squid_version=SquidVersion.V5))
    assert result.policy is not None
    probes = witness_probes(result.policy, http_port=0)  # port 0: the lab's origin
    proofs = [r.get("data", {}).get("proof") for r in (d.to_record() for d in result.report)]
    if name == "allowlist-bre-domains":
        assert probes == [] and "witness" not in proofs  # every entry proven equivalent
        return
    assert probes, f"{name}: the proof found no witness"
    lab.hosts.update(hosts_of(probes) | {p.host.lower() for p in probes})
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(result.files["squid.conf"].text)
    results = lab.decide([tp.target("old")], sq.target("new"), [_fill_probe(lab, p) for p in probes])
    assert len(results) == len(probes)
    same = [f"{r.probe.label()} ({r.probe.why})" for r in results if r.outcome is Outcome.AGREE]
    assert same == [], "witnesses both proxies decide alike:\n" + "\n".join(same)


# Upstream sites whose squid form routes differently (squid strips a trailing dot, and ".x" is
# written as "\.x$" once the doubled dot is gone): the proof's witness must take another route
# through the real proxies — the lab's parent tags its answers, so the route is observed.
UPSTREAM: dict[str, str] = {
    "upstream-trailing-dot": "Timeout 5\nupstream http 127.0.0.1:@PARENT_PORT@ \"trail.corp.example.\"\n",
    "upstream-double-dot": "Timeout 5\nupstream http 127.0.0.1:@PARENT_PORT@ \"..corp.example\"\n",
    "upstream-none-trailing-dot": ("Timeout 5\nupstream http 127.0.0.1:@PARENT_PORT@\n"
                                   "upstream none \"direct.corp.example.\"\n"),
}


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_every_upstream_witness_takes_another_route(name, tinyproxy_bin, squid_bin, lab):
    from tinysquid.convert import ConvertOptions, SquidVersion, convert_file
    from tinysquid.verify.engine import EngineOptions

    conf_path = _prepare(lab, Case(UPSTREAM[name]))
    result = convert_file(conf_path, ConvertOptions(squid_version=SquidVersion.V5))
    assert result.policy is not None
    assert any(d.code == "TS805" for d in result.report), [d.code for d in result.report]
    probes = witness_probes(result.policy, http_port=0)
    assert probes and all(p.origin == "witness" and "upstream site" in p.why for p in probes), probes
    lab.hosts.update(hosts_of(probes))
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(result.files["squid.conf"].text)
    opts = EngineOptions(concurrency=4, timeout=5, deadline=60, route_header="X-Served-By")
    results = lab.decide([tp.target("old")], sq.target("new"), [_fill_probe(lab, p) for p in probes], opts)
    assert len(results) == len(probes)
    for r in results:
        assert r.outcome is Outcome.CHANGED, f"{r.probe.label()} ({r.probe.why}): {r.outcome} {r.note}"
