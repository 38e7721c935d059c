"""Differential tests for convert (issue #2): the real tinyproxy on a config and the real squid on
what ``convert`` made of it must decide every probe alike.

For each config: write it (and its filter file) into a Lab, rewriting only where it listens, logs
and finds its files, and pointing parent proxies at the Lab's fake parent on loopback; run
``convert_file``; start both proxies; run ``tinysquid verify --config`` (rule-derived probes plus a
few hand-picked ``--targets``) from one or more loopback client addresses (``--source-ip``). Assert identical decision classes
(denied / auth-required / allowed, and the route taken for plain requests: direct or the parent)
and, above all, ZERO probes that tinyproxy refuses and squid allows.

Documented divergences compared by class (issue #3): tinyproxy 1.11.1 answers wrong credentials
with 401, squid with 407 (both ``auth-required``); forwarding failures are tinyproxy 500/502 and
squid 503/502 (both ``allowed``).

One divergence convert itself reports and that no squid.conf can avoid: squid lower-cases the host
before any ACL sees it, so a case-sensitive tinyproxy pattern cannot be reproduced. convert says so
per line (TS256: upper-case spellings are now refused → ``narrowed``; TS257: the upper-case spelling
is now admitted → ``widened``). Such a probe is accepted only when its host has upper-case letters
AND convert raised that very code; every other disagreement fails the test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests._squid_runtime import SquidRuntime
from tests.conftest import CORPUS, by_squid_series
from tests.integration.harness import Lab, assert_loopback_only
from tinysquid.cli import app
from tinysquid.verify.model import AuthMode, Method, Probe
from tinysquid.verify.probes import from_policy, hosts_of

pytestmark = pytest.mark.integration
runner = CliRunner()


@dataclass
class Case:
    """A tinyproxy config, its files, the client addresses to probe from and extra probes.
    ``@FILE:name@`` in the config becomes the Lab path of ``files[name]``."""

    conf: str
    files: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ("127.0.0.1",)
    extra: tuple[Probe, ...] = ()
    auth: str | None = None
    expect: frozenset[str] = frozenset({"allowed"})  # classes / routes tinyproxy must show somewhere
    from_corpus: bool = False  # read from the shared corpus (the test skips, or fails in CI, without it)


def corpus(conf_name: str, filter_name: str | None = None, **kw: object) -> Case:
    """A corpus config, its Filter line pointed at the corpus filter file (if any). Without the corpus
    the case is empty and marked, so collection works on a fresh clone."""
    kw.setdefault("expect", frozenset({"allowed", "denied"}))
    if not (CORPUS / conf_name).exists():
        return Case("", from_corpus=True, **kw)  # type: ignore[arg-type]
    text = (CORPUS / conf_name).read_text()
    files = {}
    if filter_name is not None:
        files["filter"] = (CORPUS / filter_name).read_text()
        text = re.sub(r'(?im)^(\s*Filter(?:File)?\s+)"[^"]*"', r'\1"@FILE:filter@"', text)
    return Case(text, files, from_corpus=True, **kw)  # type: ignore[arg-type]


def G(host: str, path: str = "/") -> Probe:
    return Probe(Method.GET, host, 0, path, why="hand-picked")  # port 0: the Lab's origin


def C(host: str, port: int = 0) -> Probe:
    return Probe(Method.CONNECT, host, port, why="hand-picked")  # port 0: the Lab's echo


CASES: dict[str, Case] = {
    "allowlist-bre-domains": Case(
        "Timeout 5\nAllow 127.0.0.1\nConnectPort 443\nFilter \"@FILE:filter@\"\nFilterDefaultDeny Yes\n",
        {"filter": "example\\.com$\n^api\\.example\\.org$\n"},
        extra=(G("www.example.com"), G("example.com.evil.test"), C("api.example.org", 443)), expect=frozenset({"allowed", "denied"})),
    "clients-first-match-shadowed": Case(
        "Timeout 5\nDeny 127.0.0.2\nAllow 127.0.0.0/29\nDeny 127.0.0.5\nAllow 127.0.1.0/24\n",
        sources=("127.0.0.1", "127.0.0.2", "127.0.0.5", "127.0.0.9", "127.0.1.7"),
        extra=(G("any.example.net"),), expect=frozenset({"allowed", "denied"})),
    "clients-ipv6-entries": Case(
        "Timeout 5\nAllow ::1\nAllow 2001:db8::/32\nAllow 127.0.0.3\n",
        sources=("127.0.0.1", "127.0.0.3"), extra=(G("any.example.net"),), expect=frozenset({"allowed", "denied"})),
    "clients-ipv6-all": Case(
        "Timeout 5\nAllow ::/0\n", sources=("127.0.0.1", "127.0.0.4"), extra=(G("any.example.net"),)),
    "connectport-0": Case("Timeout 5\nConnectPort 0\n", extra=(C("tunnel.example.net"), C("tunnel.example.net", 443)), expect=frozenset({"allowed", "denied"})),
    "connectport-none": Case("Timeout 5\n", extra=(C("tunnel.example.net"), C("tunnel.example.net", 22))),
    "filter-ere-urls-blocklist": Case(
        "Timeout 5\nFilterType ere\nFilterURLs On\nFilter \"@FILE:filter@\"\nFilterDefaultDeny No\n",
        {"filter": "^http://[^/]*/private/\nads\\.example\\.(com|net)\n"},
        extra=(G("www.example.com", "/private/x"), G("www.example.com", "/public/x"), G("ads.example.net"),
               C("ads.example.com", 443)), expect=frozenset({"allowed", "denied"})),
    "filter-fnmatch": Case(
        "Timeout 5\nFilterType fnmatch\nFilter \"@FILE:filter@\"\nFilterDefaultDeny Yes\n",
        {"filter": "*.example.com\nexact.example.org\n"},
        extra=(G("a.example.com"), G("example.com"), G("exact.example.org"), G("x.exact.example.org")), expect=frozenset({"allowed", "denied"})),
    "filter-case-sensitive": Case(
        "Timeout 5\nFilterCaseSensitive On\nFilter \"@FILE:filter@\"\nFilterDefaultDeny Yes\n",
        {"filter": "^Mixed\\.Example\\.com$\n"},
        extra=(G("Mixed.Example.com"), G("mixed.example.com")), expect=frozenset({"allowed", "denied"})),
    "upstream-http-site-and-none": Case(
        "Timeout 5\nupstream http 127.0.0.1:@PARENT_PORT@ \".corp.example\"\nupstream none \"direct.corp.example\"\n",
        extra=(G("www.corp.example"), G("corp.example"), G("direct.corp.example"), G("elsewhere.example.net")),
        expect=frozenset({"allowed", "parent", "origin"})),
    "upstream-default-with-direct-site": Case(
        "Timeout 5\nupstream http 127.0.0.1:@PARENT_PORT@\nupstream none \".internal.example\"\n",
        extra=(G("pkg.internal.example"), G("www.example.com")), expect=frozenset({"parent", "origin"})),
    "basicauth": Case(
        "Timeout 5\nBasicAuth alice s3cret\nConnectPort 443\n", auth="alice:s3cret",
        extra=(G("www.example.com"), C("www.example.com", 443)),  # none/wrong come from the rules
        expect=frozenset({"allowed", "auth-required"})),
    "headers": Case(
        "Timeout 5\nViaProxyName \"egress\"\nAddHeader \"X-Env\" \"test\"\nAnonymous \"Host\"\nAnonymous \"User-Agent\"\n"
        "XTinyproxy Yes\n", extra=(G("www.example.com"),)),
    "corpus-bborbe-allowlist": corpus("bborbe__claude-yolo__files_tinyproxy.conf",
                                      "bborbe__claude-yolo__files_tinyproxy-allowlist"),
    "corpus-adereis-ere-allowlist": corpus("adereis__claude-sandbox__tinyproxy.conf",
                                           "adereis__claude-sandbox__network-whitelist.conf"),
    "corpus-dsedivec-url-blocklist": corpus("dsedivec__llm-container__llm_tinyproxy.conf",
                                            "dsedivec__llm-container__llm_blocklist"),
    "corpus-c0decave-ere-allowlist": corpus("c0decave__peers__proxy_tinyproxy.conf",
                                            "c0decave__peers__proxy_filter-allow.txt",
                                            sources=("127.0.0.1", "127.0.1.1")),
    "corpus-qubes-updates": corpus("QubesOS__qubes-core-agent-linux__network_tinyproxy-updates.conf",
                                   "QubesOS__qubes-core-agent-linux__network_updates-blacklist"),
}


def _prepare(lab: Lab, case: Case) -> Path:
    text = case.conf if re.search(r"(?im)^Port\s", case.conf) else "Port 8888\n" + case.conf
    for name, content in case.files.items():
        path = lab.write(name, content)
        text = text.replace(f"@FILE:{name}@", str(path))
    # Only for convert's eyes: tinyproxy itself gets Port/Listen/LogFile rewritten by the harness.
    return lab.write("tinyproxy.conf", text)


def _target(runtime: SquidRuntime):
    """The ``--squid-version`` for this squid: its own series, else the newest convert offers."""
    from tinysquid.convert import SquidVersion

    by_value = {str(v): v for v in SquidVersion}
    return by_value.get(runtime.series, max(SquidVersion, key=lambda v: int(str(v))))


@by_squid_series
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.corpus) if CASES[n].from_corpus else n
                                  for n in sorted(CASES)])
def test_tinyproxy_and_converted_squid_decide_alike(name, tinyproxy_bin, squid_runtime: SquidRuntime, lab: Lab):
    from tinysquid.convert import ConvertOptions, convert_file
    from tinysquid.squid.render import PASSWD_PATH

    case = CASES[name]
    conf_path = _prepare(lab, case)
    result = convert_file(conf_path, ConvertOptions(squid_version=_target(squid_runtime)))
    assert result.policy is not None
    squid_conf = result.files["squid.conf"].text
    if "htpasswd" in result.files:
        passwd = lab.write("passwd", result.files["htpasswd"].text, 0o600)
        squid_conf = squid_conf.replace(PASSWD_PATH, str(passwd))

    extra = [Probe(p.method, p.host, p.port or (lab.echo_port if p.method is Method.CONNECT else lab.origin_port),
                   p.path, p.auth, "hand-picked", p.why) for p in case.extra]
    # verify --config derives the same probes from the same front end: map all their hosts first
    probes = from_policy(result.policy, http_port=lab.origin_port) + extra
    lab.hosts.update(hosts_of(probes))
    assert_loopback_only(probes, lab.hosts)  # the same probes verify --config sends: loopback only
    targets = lab.write("extra-targets.txt", "".join(f"{p.method.value} {p.target}\n" for p in extra
                                                     if p.auth is AuthMode.DEFAULT))
    tp = lab.start_tinyproxy(conf_path.read_text())
    sq = lab.start_squid(squid_conf, binary=squid_runtime.binary)

    seen: set[str] = set()
    reported = {d.code for d in result.report}
    accepted_as = {"narrowed": "TS256", "widened": "TS257"}
    disagreements: list[str] = []
    widened: list[str] = []
    accepted: list[str] = []
    for source in case.sources:
        args = ["verify", "--old", tp.url, "--new", sq.url, "--config", str(conf_path), "--targets", str(targets),
                "--http-port", str(lab.origin_port), "--source-ip", source, "--route-header", "X-Served-By",
                "--concurrency", "6", "--timeout", "5", "--deadline", "60", "-o", "json"]
        if case.auth:
            args += ["--old-auth", case.auth, "--new-auth", case.auth]
        if any(p.auth is not AuthMode.DEFAULT for p in extra):
            pytest.fail("hand-picked probes with an auth mode cannot go through --targets")
        out = runner.invoke(app, args)
        assert out.exit_code in (0, 1, 3), out.output
        doc = json.loads(out.stdout)
        assert doc["complete"] and doc["summary"]["errors"] == 0, doc["problems"]
        for r in doc["probes"]:
            old, new = r["old"][0], r["new"]
            seen.update(x for x in (old["class"], old.get("route")) if x)
            line = f"from {source}: {r['result']}: {r['request']} old={old['status']} {old['class']} " \
                   f"new={new['status']} {new['class']} ({r['why']})"
            if r["host"] != r["host"].lower() and accepted_as.get(r["result"]) in reported:
                accepted.append(line)  # squid lower-cases hosts; convert reported it (see module doc)
                continue
            if r["result"] == "narrowed" and reported & {"TS278", "TS291"}:
                # a URL blocklist entry widened for squid's %-decoding or its normalised URL (reported)
                accepted.append(line)
                continue
            if r["result"] == "widened":
                widened.append(line)
            if r["result"] != "agree":
                disagreements.append(line)
    assert case.expect <= seen, f"the probes never showed {case.expect - seen}: the case tests nothing"
    assert widened == [], "squid allows what tinyproxy refuses:\n" + "\n".join(widened)
    assert disagreements == [], "\n".join(disagreements)
    if accepted:
        print(f"{len(accepted)} case-only divergences convert reported (TS256/TS257):\n" + "\n".join(accepted))
