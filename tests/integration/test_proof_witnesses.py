"""Every witness convert's proof produces really differs through the real tinyproxy and squid.

The witnesses come from ``verify``'s witness source (the same function ``verify --config`` uses),
for the differential cases and a few adversarial filters; each is sent through both proxies on
loopback, and tinyproxy and squid must decide it differently — as the proof said.
"""

from __future__ import annotations

import pytest

from tests.conftest import by_squid_series
from tests.integration.harness import _fill_probe
from tests.integration.test_differential import CASES, Case, _prepare, _target
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


# IPv6 witnesses outside ::1 / :: (verify does not send them: a proxy that admits one would connect
# there). Here both proxies forward every request to the lab's parent on 127.0.0.1, so the address
# is never connected to; the side that admits the witness answers through the parent (tagged),
# the other refuses it (403). The filters are the corpus entries that were unproven on IPv6 hosts.
IPV6_VIA_PARENT: dict[str, tuple[str, bool]] = {
    "qubes-dotted-blocklist": ("10.137.255.254", False),  # squid tests [::a89:fffe] as [::10.137.255.254]
    "pestech-dotted-allowlist": ("5.161.56.11", True),
    "loopback-dotted-blocklist": ("127.0.0.1", False),  # [::7f00:1] is [::127.0.0.1] (not loopback)
    "hex-word-blocklist": ("cafe", False),  # tinyproxy sees the dotted tail ::0.0.202.254, squid [::cafe]
}


def _ask(port: int, request_line: str) -> tuple[int, str]:
    """Send one request to a proxy on 127.0.0.1; (status, X-Served-By)."""
    import socket

    target = request_line.split(" ", 1)[1]
    host = target.split("http://", 1)[1].split("/", 1)[0] if "http://" in target else target
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{request_line} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    tag = next((h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("x-served-by:")), "")
    return status, tag


@by_squid_series
@pytest.mark.parametrize("name", sorted(IPV6_VIA_PARENT))
def test_ipv6_witnesses_differ_through_the_real_proxies(name, tinyproxy_bin, squid_runtime, lab):
    from tinysquid.convert import ConvertOptions, convert_file

    entry, allowlist = IPV6_VIA_PARENT[name]
    conf = ("Timeout 5\nupstream http 127.0.0.1:@PARENT_PORT@\nFilter \"@FILE:filter@\"\n"
            + ("FilterDefaultDeny Yes\n" if allowlist else ""))
    conf_path = _prepare(lab, Case(conf, {"filter": entry + "\n"}))
    result = convert_file(conf_path, ConvertOptions(squid_version=_target(squid_runtime)))
    found = [d for d in result.report if d.data.get("proof") == "witness" and d.data.get("probed") is False]
    assert len(found) == 1, [d.to_record() for d in result.report]
    request, refused_by = str(found[0].data["witness"]), found[0].data["refused_by"]
    assert request.startswith("GET http://[")
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(result.files["squid.conf"].text, binary=squid_runtime.binary)
    answers = {"tinyproxy": _ask(tp.port, request), "squid": _ask(sq.port, request)}
    admitted = "squid" if refused_by == "tinyproxy" else "tinyproxy"
    assert answers[refused_by][0] == 403, (request, answers)
    assert answers[admitted] == (200, "parent"), (request, answers)


@by_squid_series
def test_the_unspecified_address_is_tested_as_sent(tinyproxy_bin, squid_runtime, lab):
    """squid keeps ``[0::]`` as ``0::`` (Ip::Address::isAnyAddr): ``^0::$`` blocks it on both sides, so
    the proof calls the entry equivalent, and both real proxies refuse the request."""
    from tinysquid.convert import ConvertOptions, convert_file

    conf_path = _prepare(lab, Case("Timeout 5\nupstream http 127.0.0.1:@PARENT_PORT@\nFilter \"@FILE:filter@\"\n"
                                   "FilterExtended On\n", {"filter": "^0::$\n"}))
    result = convert_file(conf_path, ConvertOptions(squid_version=_target(squid_runtime)))
    assert not any(d.data.get("proof") in ("witness", "unproven") for d in result.report)
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(result.files["squid.conf"].text, binary=squid_runtime.binary)
    for line in ("GET http://[0::]/", "GET http://[0:0::]/"):
        want = 403 if line == "GET http://[0::]/" else 200
        assert _ask(tp.port, line)[0] == want and _ask(sq.port, line)[0] == want, line


@pytest.mark.parametrize("squid_runtime", ("5", "6"), indirect=True, ids=lambda s: f"squid{s}")
def test_a_connect_without_a_port_is_a_url_witness(tinyproxy_bin, squid_runtime, lab):
    """FilterURLs: tinyproxy searches ``0.0.0.0`` for ``CONNECT 0.0.0.0``, squid 5.7/6.13 its URL
    ``0.0.0.0:443`` (the port it assumes): an allowlist ``^[0-9.]+:443$`` admits the request in
    squid only — the same request tinyproxy admits with the port spelled out. The proof names it;
    both real proxies confirm it (0.0.0.0 is this host)."""
    from tinysquid.convert import ConvertOptions, convert_file

    conf_path = _prepare(lab, Case("Timeout 5\nFilterURLs On\nFilterExtended On\nFilterDefaultDeny Yes\n"
                                   "Filter \"@FILE:filter@\"\n", {"filter": "^[0-9.]+:443$\n"}))
    result = convert_file(conf_path, ConvertOptions(squid_version=_target(squid_runtime)))
    found = [d for d in result.report if d.data.get("proof") == "witness"]
    assert [(d.code, d.data["witness"], d.data["refused_by"], d.data.get("probed")) for d in found] == [
        ("TS810", "CONNECT 0.0.0.0", "tinyproxy", False)], [d.to_record() for d in result.report]
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(result.files["squid.conf"].text, binary=squid_runtime.binary)
    assert _ask(tp.port, "CONNECT 0.0.0.0")[0] == 403
    assert _ask(tp.port, "CONNECT 0.0.0.0:443")[0] != 403  # the port spelled out: tinyproxy admits it
    status = _ask(sq.port, "CONNECT 0.0.0.0")[0]
    assert status != 403, status  # admitted: squid tried 0.0.0.0:443
    assert _ask(sq.port, "CONNECT 0.0.0.0:443")[0] == status  # the same request as squid sees it


@pytest.mark.parametrize("squid_runtime", ("5", "6"), indirect=True, ids=lambda s: f"squid{s}")
def test_a_blocklist_keeps_a_connect_without_a_port_closed(tinyproxy_bin, squid_runtime, lab):
    """The blocklist ``^[0-9.]+$`` blocks ``CONNECT 0.0.0.0`` in tinyproxy; squid tests ``0.0.0.0:443``,
    so the entry is widened (TS291) and squid refuses it too: no widening witness is left."""
    from tinysquid.convert import ConvertOptions, convert_file

    conf_path = _prepare(lab, Case("Timeout 5\nFilterURLs On\nFilterExtended On\nFilter \"@FILE:filter@\"\n",
                                   {"filter": "^[0-9.]+$\n"}))
    result = convert_file(conf_path, ConvertOptions(squid_version=_target(squid_runtime)))
    assert any(d.code == "TS291" for d in result.report)
    assert not [d for d in result.report if d.data.get("refused_by") == "tinyproxy"]
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(result.files["squid.conf"].text, binary=squid_runtime.binary)
    assert _ask(tp.port, "CONNECT 0.0.0.0")[0] == 403
    assert _ask(sq.port, "CONNECT 0.0.0.0")[0] == 403


def test_a_url_without_a_path_is_a_url_witness(tinyproxy_bin, squid_bin, lab):
    """FilterURLs: squid's URL for ``GET http://ads.example`` is ``http://ads.example/``, so a blocklist
    ``^http://ads\\.example/`` refuses it in squid only; the witness probe keeps the spelling."""
    from tinysquid.convert import ConvertOptions, SquidVersion, convert_file

    conf_path = _prepare(lab, Case("Timeout 5\nFilterURLs On\nFilterExtended On\nFilter \"@FILE:filter@\"\n",
                                   {"filter": "^http://ads\\.example/\n"}))
    result = convert_file(conf_path, ConvertOptions(squid_version=SquidVersion.V5))
    assert result.policy is not None
    probes = witness_probes(result.policy, http_port=0)
    assert [(p.raw, p.why.split(": ")[-1]) for p in probes] == [("http://ads.example", "narrowing, squid refuses it")]
    lab.hosts.add("ads.example")
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(result.files["squid.conf"].text)
    assert _ask(sq.port, "GET http://ads.example")[0] == 403
    assert _ask(tp.port, "GET http://ads.example")[0] != 403  # admitted (nothing answers on port 80)
    assert _ask(tp.port, "GET http://ads.example/")[0] == 403  # the URL squid tests: tinyproxy refuses it too


@pytest.mark.parametrize("squid_runtime", ("7",), indirect=True, ids=lambda s: f"squid{s}")
def test_squid_7_refuses_a_connect_without_a_port(tinyproxy_bin, squid_runtime, lab):
    """Why the portless CONNECT is left out for --squid-version 7: squid 7 refuses it (400) before
    any ACL, so the entry decides nothing there; the proof reports no witness."""
    from tinysquid.convert import ConvertOptions, SquidVersion, convert_file

    conf_path = _prepare(lab, Case("Timeout 5\nFilterURLs On\nFilterExtended On\nFilter \"@FILE:filter@\"\n",
                                   {"filter": "^[0-9.]+$\n"}))
    result = convert_file(conf_path, ConvertOptions(squid_version=SquidVersion.V7))
    # no widening witness; the `:443` form the entry also blocks for 5.7/6.13 (TS291) is a narrowing
    assert not [d for d in result.report if d.data.get("refused_by") == "tinyproxy"]
    sq = lab.start_squid(result.files["squid.conf"].text, binary=squid_runtime.binary)
    assert _ask(sq.port, "CONNECT 0.0.0.0")[0] == 400
