"""Policy IR → squid.conf text, loadable by squid 5.7 and 6.13.

The http_access block reproduces tinyproxy's request pipeline and its status codes (research notes
tinyproxy §2): manager pages (localhost only, for the chart's exporter sidecar) → client rules
(403) → Basic auth (407) → CONNECT ports (403) → hardening (403) → destination filter (403) → allow,
and always ends with ``http_access deny all``. Upstream routes become cache_peer +
cache_peer_access + always_direct/never_direct lists that reproduce first-match route selection.

Pitfalls handled here (squid-and-chart.md §3): ACL values inline and lines < 8 KB; no overlapping
``src``/``dst`` CIDRs (squid ≤6 drops the wider one) and no overlapping ``dstdomain`` entries (FATAL);
our own ``ts_`` ACL names (5.7 lacks ``to_linklocal``); ``-n`` on every domain ACL so an IP-literal
request is never matched through its reverse-DNS name (tinyproxy only ever tests the host string);
time values with units; ``{{`` escaped for the chart's ``tpl``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tinysquid._version import __version__
from tinysquid.diagnostics import InputError, Report
from tinysquid.diagnostics.model import Diagnostic, Span, make
from tinysquid.policy import ir
from tinysquid.policy.passes.cidrs import KNOWN_NAMES, AddressSet, decide_clients, format_network

PASSWD_PATH = "/etc/squid/passwd"
NCSA_HELPER = "/usr/lib/squid/basic_ncsa_auth"
DEFAULT_VISIBLE_HOSTNAME = "tinysquid-proxy"
CHART_SPOOL = "/var/spool/squid"
MAX_ACL_LINE = 2000  # squid reads lines with fgets(BUFSIZ=8192); stay far below
SOURCE = "convert"

# Chart template expressions, kept out of the user-data escaping (see _finish).
_TPL_PORT = "\x00TPL_PORT\x00"
_TPL_SHUTDOWN = "\x00TPL_SHUTDOWN\x00"
_TEMPLATES = {_TPL_PORT: "{{ .Values.service.targetPort }}",
              _TPL_SHUTDOWN: "{{ .Values.squidShutdownTimeout }}"}
DEFAULT_SHUTDOWN_SECONDS = 30

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IP_LITERAL_RES = (r"^[0-9]+(\.[0-9]+){3}$", r"^\[?[0-9a-f]*:[0-9a-f:.]*\]?$")


# --------------------------------------------------------------------------- text helpers


def _clean(text: str) -> str:
    """User text for a comment or a value: no control characters (no directive injection)."""
    return _CONTROL.sub("?", text)


def _where(span: Span | None) -> str:
    return f"{span.path}:{span.line}" if span is not None else "(default)"


def _ere_escape(text: str) -> str:
    """Escape ``text`` as a literal inside a POSIX ERE."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def squid_token(pattern: str) -> str:
    """Make a regex a single squid config token with the same meaning: a leading ``"`` would name a
    file, a leading ``-``/``+`` an option and a leading ``#`` a comment, so those become one-character
    bracket expressions; whitespace (which would split the token) becomes ``[[:space:]]``."""
    if pattern and pattern[0] in "\"-+#":
        pattern = f"[{pattern[0]}]{pattern[1:]}"
    return re.sub(r"\s", "[[:space:]]", pattern)


_CLASS_NAMES = re.compile(r"\[:[a-z]+:\]")


def has_uppercase_literal(regex: str) -> bool:
    """Whether an ERE contains an upper-case letter that must match literally (not ``[:upper:]``)."""
    return any("A" <= c <= "Z" for c in _CLASS_NAMES.sub("", regex))


def canonical_domains(entries: Iterable[tuple[str, bool]]) -> list[str]:
    """dstdomain values with no overlap (squid 5/6 FATAL on ``x`` + ``.x`` or ``a.x`` after ``.x``).

    ``entries`` are ``(name, subdomains_too)``; ``True`` becomes ``.name``. Lower-cased, deduplicated,
    entries covered by a ``.parent`` dropped; sorted for deterministic output.
    """
    wild: set[str] = set()
    exact: set[str] = set()
    for name, subs in entries:
        name = name.lower().strip(".") if subs else name.lower()
        if not name:
            continue
        (wild if subs else exact).add(name)

    def covered(name: str, *, self_counts: bool) -> bool:
        if self_counts and name in wild:
            return True
        # every proper parent: the text after each dot (no split/join per suffix)
        dot = name.find(".")
        while dot >= 0:
            if name[dot + 1:] in wild:
                return True
            dot = name.find(".", dot + 1)
        return False

    keep = [f".{n}" for n in wild if not covered(n, self_counts=False)]
    keep += [n for n in exact if not covered(n, self_counts=True)]
    return sorted(keep, key=lambda v: (v.lstrip("."), v))


_REG_EXTENDED, _REG_ICASE, _REG_NOSUB = 1, 2, 8


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if lib is None or not hasattr(lib, "regcomp"):
        return None
    lib.regcomp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.regerror.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.regfree.argtypes = [ctypes.c_void_p]
    return lib


def posix_ere_error(pattern: str, *, icase: bool) -> str | None:
    """The C library's regcomp(REG_EXTENDED|REG_NOSUB[|REG_ICASE]) error for ``pattern`` (what squid
    compiles it with), or None when it compiles or no C library is reachable."""
    lib = _libc()
    if lib is None:
        return None
    buf = ctypes.create_string_buffer(1024)  # >= sizeof(regex_t) on every libc we know (glibc: 64)
    flags = _REG_EXTENDED | _REG_NOSUB | (_REG_ICASE if icase else 0)
    rc = lib.regcomp(buf, pattern.encode("utf-8", "surrogateescape"), flags)
    if rc == 0:
        lib.regfree(buf)
        return None
    msg = ctypes.create_string_buffer(256)
    lib.regerror(rc, buf, msg, len(msg))
    return msg.value.decode("utf-8", "replace") or f"regcomp error {rc}"


def _checked_token(pat: ir.DestPattern, regex: str, *, icase: bool) -> str:
    """``regex`` as a squid token, after checking that squid will compile it: squid 5.7 skips a
    pattern it cannot compile and starts anyway, which would silently widen a blocklist.

    Raises:
        InputError: TS280, the pattern does not compile as a POSIX ERE.
    """
    token = squid_token(regex)
    error = posix_ere_error(token, icase=icase)
    if error is not None:
        raise InputError(make("TS280", f"pattern {pat.source_text!r} does not compile as a POSIX extended "
                              f"regex ({error}): squid would skip it", source=SOURCE, span=pat.origin))
    return token


# --------------------------------------------------------------------------- the writer


@dataclass
class _Conf:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def comment(self, text: str) -> None:
        self.lines.append(f"# {_clean(text)}")

    def section(self, title: str) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")
        self.lines.append(f"# --- {title}")

    def acl(self, name: str, kind: str, values: Sequence[str], flags: str = "") -> None:
        """One or more ``acl NAME KIND [flags] v…`` lines (same name appends), each ≤ MAX_ACL_LINE."""
        head = f"acl {name} {kind}" + (f" {flags}" if flags else "")
        cur: list[str] = []
        size = len(head)
        for value in values:
            if cur and size + 1 + len(value) > MAX_ACL_LINE:
                self.lines.append(" ".join([head, *cur]))
                cur, size = [], len(head)
            cur.append(value)
            size += 1 + len(value)
        if cur:
            self.lines.append(" ".join([head, *cur]))


# --------------------------------------------------------------------------- entry point


def render_squid_conf(policy: ir.Policy, *, squid_version: str = "6", for_chart: bool = False,
                      report: Report) -> str:
    """A complete squid.conf for ``policy``.

    ``for_chart=False``: literal values (listening on the tinyproxy Port). ``for_chart=True``: the
    younsl chart's invariants (http_port/shutdown_lifetime from values, pid file in the spool dir)
    and every literal ``{{`` escaped for Helm ``tpl``. Findings about inexact translations go to
    ``report``, located on the IR node's ``origin``.
    """
    return _render(policy, squid_version, for_chart, report, _DestCache())


def render_squid_confs(policy: ir.Policy, *, squid_version: str = "6", report: Report) -> tuple[str, str]:
    """Both renderings ``convert`` writes: (standalone squid.conf, the chart's copy).

    Same text as two :func:`render_squid_conf` calls, but the destination filter section, which is
    identical in both and is nearly all of the work for a large allowlist (one ACL value, comment and
    regcomp check per pattern), is built once. Findings go to ``report`` once (from the standalone
    rendering); the chart rendering's own findings are the same ones and are not repeated.
    """
    cache = _DestCache()
    plain = _render(policy, squid_version, False, report, cache)
    chart = _render(policy, squid_version, True, Report(), cache)
    return plain, chart


def _render(policy: ir.Policy, squid_version: str, for_chart: bool, report: Report, cache: _DestCache) -> str:
    if squid_version not in ("5", "6"):
        raise ValueError(f"squid_version must be '5' or '6', not {squid_version!r}")
    conf = _Conf()
    _header(conf, policy, squid_version, for_chart)
    _listener(conf, policy, for_chart, report)
    _general(conf, policy, for_chart, report)
    _headers(conf, policy.headers, report)
    upstream_acls = _Conf()
    matchers = _upstream_matchers(upstream_acls, policy.upstream, report)
    _access(conf, policy, upstream_acls, matchers, report, cache)
    _upstream(conf, policy.upstream, matchers, report)
    return _finish(conf, for_chart)


@dataclass
class _DestSection:
    """The destination filter's ACL lines, http_access lines and findings, as ``_dest_rules`` made them."""

    acl_lines: list[str]
    rules: list[str]
    findings: list[Diagnostic]


@dataclass
class _DestCache:
    """Builds the destination section on first use (at the same point in the rendering as before, so
    an error in it surfaces in the same order) and hands the same section to a second rendering."""

    section: _DestSection | None = None

    def emit(self, acls: _Conf, rules: list[str], dest: ir.DestPolicy | None, report: Report) -> None:
        if self.section is None:
            own_acls, own_rules, own_report = _Conf(), [], Report()
            _dest_rules(own_acls, own_rules, dest, own_report)
            self.section = _DestSection(own_acls.lines, own_rules, own_report.diagnostics)
        acls.lines.extend(self.section.acl_lines)
        rules.extend(self.section.rules)
        report.extend(self.section.findings)


def _finish(conf: _Conf, for_chart: bool) -> str:
    # No trailing blanks: they would also stop YAML from keeping the chart copy as a literal block.
    # Trailing empty lines are dropped from the list before the one join (the same text as joining
    # everything, stripping the trailing newlines and adding one, without two more 15 MB copies).
    lines = [line.rstrip() for line in conf.lines]
    while lines and not lines[-1]:
        lines.pop()
    lines.append("")
    text = "\n".join(lines) if len(lines) > 1 else "\n"
    del lines
    if for_chart:
        # The chart runs the whole file through Helm `tpl`: a literal "{{" would start an action.
        text = text.replace("{{", '{{"{{"}}')
    for sentinel, expr in _TEMPLATES.items():
        text = text.replace(sentinel, expr if for_chart else "")
    return text


def _header(conf: _Conf, policy: ir.Policy, squid_version: str, for_chart: bool) -> None:
    conf.comment(f"Generated by tinysquid {__version__} — re-run `tinysquid convert` instead of editing.")
    for src in policy.sources or ("(unknown source)",):
        conf.comment(f"Source: {src}")
    target = "the younsl squid Helm chart (rendered through tpl)" if for_chart else "a plain squid.conf"
    conf.comment(f"Target: squid {squid_version}.x, {target}. Comments name the tinyproxy line of each rule.")


def _listener(conf: _Conf, policy: ir.Policy, for_chart: bool, report: Report) -> None:
    conf.section("listening")
    listener = policy.listener
    if for_chart:
        conf.comment(f"{_where(listener.origin)} Port {listener.port}: the Service keeps it; the pod "
                     "listens on service.targetPort")
        conf.add(f"http_port {_TPL_PORT}")  # Listen addresses: reported by the Helm back end (TS274)
        return
    conf.comment(f"{_where(listener.origin)} Port {listener.port}")
    if not listener.addresses:
        conf.add(f"http_port {listener.port}")
    for addr in listener.addresses:
        host = f"[{addr.strip('[]')}]" if ":" in addr else addr
        conf.add(f"http_port {host}:{listener.port}")


def _general(conf: _Conf, policy: ir.Policy, for_chart: bool, report: Report) -> None:
    conf.section("process, cache, DNS, timeouts")
    if for_chart:
        conf.comment("the chart's preStop hook finds squid through this pid file (writable by uid 13)")
        conf.add(f"pid_filename {CHART_SPOOL}/squid.pid")
        conf.add(f"coredump_dir {CHART_SPOOL}")
        conf.add("logfile_rotate 0")
        conf.add(f"shutdown_lifetime {_TPL_SHUTDOWN} seconds")
    else:
        conf.add(f"shutdown_lifetime {DEFAULT_SHUTDOWN_SECONDS} seconds")
    conf.comment("tinyproxy has no cache: forward only")
    conf.add("cache deny all")
    conf.add("httpd_suppress_version_string on")
    conf.comment("tinyproxy resolves with getaddrinfo, which honours the resolv.conf search list")
    conf.add("dns_defnames on")
    hard = policy.hardening
    if hard.max_filedescriptors:
        conf.comment("hardening: explicit fd cap (Kubernetes' huge RLIMIT_NOFILE costs memory)")
        conf.add(f"max_filedescriptors {hard.max_filedescriptors}")
    limits = policy.limits
    t = max(int(limits.idle_timeout), 1)
    conf.comment(f"{_where(limits.timeout_origin)} Timeout {limits.idle_timeout}")
    conf.add(f"read_timeout {t} seconds")
    conf.add(f"connect_timeout {t} seconds")
    conf.add(f"request_timeout {t} seconds")
    if limits.timeout_origin is not None:
        report.add(make("TS272", f"Timeout {limits.idle_timeout} becomes read_timeout, connect_timeout and "
                        f"request_timeout {t} seconds", source=SOURCE, span=limits.timeout_origin))
    if limits.max_clients_origin is not None:
        fds = hard.max_filedescriptors
        what = f"max_filedescriptors {fds} is emitted" if fds else "nothing is emitted"
        report.add(make("TS273", f"MaxClients {limits.max_clients} has no squid equivalent; {what}",
                        source=SOURCE, span=limits.max_clients_origin,
                        consequence="squid does not queue clients beyond a count; it accepts connections "
                                    "until it runs out of file descriptors"))


def _headers(conf: _Conf, headers: ir.HeaderPolicy, report: Report) -> None:
    conf.section("headers")
    conf.comment("tinyproxy adds no X-Forwarded-For but passes the client's own one through: 'transparent'"
                 " is exact ('delete' would strip a client-sent header)")
    conf.add("forwarded_for transparent")
    conf.add(f"via {'on' if headers.via else 'off'}")
    name = DEFAULT_VISIBLE_HOSTNAME
    if headers.via_name:
        name = re.sub(r"[^A-Za-z0-9._-]", "-", headers.via_name) or DEFAULT_VISIBLE_HOSTNAME
    conf.add(f"visible_hostname {name}")
    allowed = {h.lower() for h in headers.allow_only} if headers.allow_only is not None else None
    for added in headers.add:
        conf.comment(f"{_where(added.origin)} AddHeader {added.name} {added.value}")
        if allowed is not None and added.name.lower() not in allowed:
            # tinyproxy appends AddHeader to the client's headers before the Anonymous filter runs,
            # so a header missing from the Anonymous list never reaches the server.
            conf.comment("not emitted: Anonymous does not list it, so tinyproxy never forwarded it")
            continue
        value = _clean(added.value).replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
        conf.add(f'request_header_add {_header_name(added.name)} "{value}" all')
        report.add(make("TS270", f"AddHeader {added.name} is appended even when the client sent that header",
                        source=SOURCE, span=added.origin))
    if headers.client_ip_header:
        conf.comment("XTinyproxy Yes: the client's address")
        conf.add('request_header_add X-Tinyproxy "%>a" all')
    if headers.allow_only is not None:
        keep = {h.lower(): h for h in headers.allow_only}
        # tinyproxy adds these two to the Anonymous list at start-up; Host is always rebuilt; its
        # own Via (appended to the client's) is written outside the filter.
        extras = ["Content-Length", "Content-Type", "Host"] + (["Via"] if headers.via else [])
        for extra in extras:
            keep.setdefault(extra.lower(), extra)
        conf.comment("Anonymous: only the listed request headers are forwarded")
        for h in sorted(keep.values(), key=str.lower):
            conf.add(f"request_header_access {_header_name(h)} allow all")
        conf.add("request_header_access All deny all")
        origin = headers.origins[0] if headers.origins else None
        report.add(make("TS271", "Anonymous header allow list translated to request_header_access",
                        source=SOURCE, span=origin))


def _header_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9!#$&'*+.^_`|~-]", "-", name) or "X-Invalid"


# --------------------------------------------------------------------------- access rules


def _access(conf: _Conf, policy: ir.Policy, upstream_acls: _Conf, matchers: list[list[str]],
            report: Report, cache: _DestCache) -> None:
    acl_lines = _Conf()
    rules: list[str] = []

    # manager: the exporter sidecar scrapes /squid-internal-mgr/ from localhost, before any auth.
    rules.append("# squid-exporter sidecar (localhost) may read the manager pages; nobody else")
    rules.append("http_access allow localhost manager")
    rules.append("http_access deny manager")

    _client_rules(acl_lines, rules, policy.clients, report)
    if policy.auth is not None:
        _auth(acl_lines, rules, policy.auth, report)
    _connect_rules(acl_lines, rules, policy.connect)
    needs_ip_literal = any("ts_ip_literal" in m for m in matchers)
    if policy.hardening.deny_destinations:
        acl_lines.comment("hardening: cloud metadata / link-local destinations")
        acl_lines.acl("ts_deny_dst", "dst", [format_network(n) for n in
                                             AddressSet.of(policy.hardening.deny_destinations).networks()])
        hard_rules = _hardening_rules(policy.upstream, matchers)
        needs_ip_literal = needs_ip_literal or any("ts_ip_literal" in r for r in hard_rules)
        rules.extend(hard_rules)
    cache.emit(acl_lines, rules, policy.destinations, report)
    rules.append("# explicit terminal rule")
    rules.append("http_access deny all")

    conf.section("access control lists")
    if needs_ip_literal:
        conf.comment("the request names an IP address, not a host name (squid normalises 127.1, 2130706433 "
                     "and 0x7f.0.0.1 to dotted quads before ACLs see them: verified live)")
        conf.acl("ts_ip_literal", "dstdom_regex", list(_IP_LITERAL_RES), flags="-n -i")
    conf.lines.extend(upstream_acls.lines)
    conf.lines.extend(acl_lines.lines)
    conf.section("http_access: manager → clients (403) → auth (407) → CONNECT ports (403) → filter (403)")
    conf.lines.extend(rules)


def _hardening_rules(upstream: ir.UpstreamPolicy, matchers: list[list[str]]) -> list[str]:
    """The metadata deny lines. ``dst`` makes squid resolve a host name, which it must do anyway for a
    request it connects to itself; for requests handed to a parent proxy it would be an extra lookup
    squid may not even be able to do (the parent resolves). So: IP-literal requests are always
    checked without DNS; host names only where they can go direct (a DIRECT route's sites, or every
    request no route matches when there is no default route). Decisions for hosts that do not
    resolve into the denied ranges are unchanged either way."""
    routes = upstream.routes
    lines = ["# hardening: refuse metadata / link-local destinations"]
    if all(r.kind is ir.UpstreamKind.DIRECT for r in routes):
        lines.append("http_access deny ts_deny_dst")
        return lines
    lines.append("http_access deny ts_ip_literal ts_deny_dst")
    for route, matcher in zip(routes, matchers, strict=True):
        if route.kind is ir.UpstreamKind.DIRECT:
            lines.append(f"http_access deny {' '.join(matcher) or 'all'} ts_deny_dst")
    has_default = any(not m for r, m in zip(routes, matchers, strict=True) if r.kind is not ir.UpstreamKind.DIRECT)
    if not has_default:
        parent_matchers = [m for r, m in zip(routes, matchers, strict=True) if r.kind is not ir.UpstreamKind.DIRECT]
        if all(len(m) == 1 for m in parent_matchers):
            # requests no parent route takes go direct: "none of the parent sites" is an AND of negations
            lines.append("http_access deny " + " ".join(f"!{m[0]}" for m in parent_matchers) + " ts_deny_dst")
        else:
            lines.append("http_access deny ts_deny_dst")  # cannot say "no parent route" in one line
    return lines


def _client_rules(acls: _Conf, rules: list[str], clients: ir.ClientPolicy, report: Report) -> None:
    if not clients.rules:
        acls.comment("no Allow/Deny: tinyproxy admits every client")
        if clients.default is ir.Action.DENY:
            rules.append("http_access deny all")
        return
    for rule in clients.rules:
        what = (rule.match.network if isinstance(rule.match, ir.ClientNetwork) else rule.match.name)
        acls.comment(f"{_where(rule.origin)} {rule.action.value.title()} {what}")
    decision = decide_clients(clients)
    for rule in decision.dropped_allows:
        known = KNOWN_NAMES.get(rule.match.name.lower())
        if known is not None:
            addrs = " and ".join(str(n.network_address) for n in known)
            report.add(make("TS250", f"Allow {rule.match.name} admits {addrs} (its /etc/hosts addresses); the "
                            "reverse-DNS suffix match is not carried over", source=SOURCE, span=rule.origin))
            continue
        report.add(make("TS250", f"Allow {rule.match.name} (hostname) is not carried over; clients admitted "
                        "only through it are refused", source=SOURCE, span=rule.origin))
    rules.append("# client rules (first match, default deny), computed as exact address sets")
    for j, gate in enumerate(decision.gates, 1):
        if gate.admitted_before.is_everything():
            continue
        name = gate.rule.match.name
        acl_gate = f"ts_client_name_{j}"
        acls.comment(f"{_where(gate.rule.origin)} Deny {name}: reverse-DNS name ends with it (no dot boundary)")
        acls.acl(acl_gate, "srcdom_regex", [squid_token(_ere_escape(name.lower()) + "$")], flags="-i")
        report.add(make("TS251", f"Deny {name} matches reverse-DNS names ending in {name!r}; the forward "
                        "lookup tinyproxy also does is not carried over", source=SOURCE, span=gate.rule.origin))
        if gate.admitted_before:
            before = f"ts_clients_before_{j}"
            acls.acl(before, "src", [format_network(n) for n in gate.admitted_before.networks()])
            rules.append(f"http_access deny !{before} {acl_gate}")
        else:
            rules.append(f"http_access deny {acl_gate}")
    admitted = decision.admitted
    if admitted.is_everything():
        return
    if not admitted:
        rules.append("http_access deny all  # no client address is admitted")
        return
    acls.acl("ts_clients", "src", [format_network(n) for n in admitted.networks()])
    rules.append("http_access deny !ts_clients")


def _auth(acls: _Conf, rules: list[str], auth: ir.AuthPolicy, report: Report) -> None:
    acls.comment("BasicAuth: hashed users in " + PASSWD_PATH + " (see squid-auth-secret.yaml)")
    acls.add(f"auth_param basic program {NCSA_HELPER} {PASSWD_PATH}")
    acls.add("auth_param basic children 5 startup=1 idle=1")
    realm = _clean(auth.realm).strip() or "Tinyproxy"
    acls.add(f"auth_param basic realm {realm}")
    acls.add("auth_param basic credentialsttl 2 hours")
    acls.comment("tinyproxy compares user names exactly")
    acls.add("auth_param basic casesensitive on")
    acls.add("acl ts_auth proxy_auth REQUIRED")
    for user in auth.users:
        acls.comment(f"{_where(user.origin)} BasicAuth {_clean(user.user)} ***")
    rules.append("http_access deny !ts_auth")
    first = auth.users[0].origin if auth.users else None
    report.add(make("TS266", "wrong credentials get 407 from squid (401 from tinyproxy 1.11.1)",
                    source=SOURCE, span=first))


def _where_all(spans: Sequence[Span]) -> str:
    """``a.conf:3,4 b.conf:9`` for several spans."""
    by_path: dict[str, list[str]] = {}
    for span in spans:
        by_path.setdefault(span.path, []).append(str(span.line))
    return " ".join(f"{path}:{','.join(lines)}" for path, lines in by_path.items()) or "(default)"


def _connect_rules(acls: _Conf, rules: list[str], connect: ir.ConnectPolicy) -> None:
    where = _where_all(connect.origins)
    if connect.ports is None:
        return
    if not connect.ports:
        rules.append(f"# {where} ConnectPort 0: CONNECT refused")
        rules.append("http_access deny CONNECT")
        return
    acls.comment(f"{where} ConnectPort {' '.join(str(p) for p in sorted(connect.ports))}")
    acls.acl("ts_connect_ports", "port", [str(p) for p in sorted(connect.ports)])
    rules.append("http_access deny CONNECT !ts_connect_ports")


def _dest_rules(acls: _Conf, rules: list[str], dest: ir.DestPolicy | None, report: Report) -> None:
    if dest is None:
        rules.append("http_access allow all")
        return
    allowlist = dest.default is ir.Action.DENY
    domains: list[tuple[str, bool]] = []
    host_ci: list[str] = []
    host_cs: list[str] = []
    url_ci: list[str] = []
    url_cs: list[str] = []
    for pat in dest.patterns:
        acls.comment(f"{_where(pat.origin)} {pat.source_text}")
        if pat.domain is not None and dest.subject is ir.MatchSubject.HOST:
            d = pat.domain
            if d.include_apex and d.include_subdomains:
                domains.append((d.name, True))
            elif d.include_apex:
                domains.append((d.name, False))
            elif d.include_subdomains:
                host_ci.append(squid_token(r"\." + _ere_escape(d.name.lower().strip(".")) + "$"))
            continue
        token = _checked_token(pat, pat.regex, icase=not pat.case_sensitive)
        if dest.subject is ir.MatchSubject.URL:
            (url_cs if pat.case_sensitive else url_ci).append(token)
            report.add(make("TS255", f"URL pattern {pat.source_text!r} is matched against squid's normalised URL",
                            source=SOURCE, span=pat.origin))
            continue
        if pat.case_sensitive and has_uppercase_literal(pat.regex):
            if allowlist:
                host_cs.append(token)
                consequence = "hosts written in that case are now refused"
            else:
                host_ci.append(token)
                consequence = "the pattern now blocks hosts in any case"
            report.add(make("TS256", f"case-sensitive host pattern {pat.source_text!r} has upper-case letters",
                            source=SOURCE, span=pat.origin, consequence=consequence))
            continue
        if pat.case_sensitive and allowlist:
            report.add(make("TS257", f"case-sensitive host pattern {pat.source_text!r} also admits the host "
                            "spelled in upper case (squid lower-cases hosts)", source=SOURCE, span=pat.origin))
        (host_cs if pat.case_sensitive else host_ci).append(token)
    names: list[str] = []
    values = canonical_domains(domains)
    if values:
        acls.acl("ts_dest_domains", "dstdomain", values, flags="-n")
        names.append("ts_dest_domains")
    if host_ci or host_cs:
        if host_ci:
            acls.acl("ts_dest_host_re", "dstdom_regex", host_ci, flags="-n -i")
        if host_cs:
            acls.acl("ts_dest_host_re", "dstdom_regex", host_cs, flags="-n")
        names.append("ts_dest_host_re")
    if url_ci or url_cs:
        if url_ci:
            acls.acl("ts_dest_url_re", "url_regex", url_ci, flags="-i")
        if url_cs:
            acls.acl("ts_dest_url_re", "url_regex", url_cs)
        names.append("ts_dest_url_re")
    where = _where(dest.origin)
    if allowlist:
        rules.append(f"# {where} filter allowlist (FilterDefaultDeny Yes): only matching destinations")
        rules.extend(f"http_access allow {n}" for n in names)
    else:
        rules.append(f"# {where} filter blocklist: matching destinations are refused")
        rules.extend(f"http_access deny {n}" for n in names)
        rules.append("http_access allow all")


# --------------------------------------------------------------------------- upstream


def _site_acls(conf: _Conf, index: int, route: ir.UpstreamRoute, report: Report) -> list[str]:
    """ACL names (ANDed) that match this route's sites; [] means every request."""
    site = route.site
    if site is None or site.kind is ir.SiteKind.ANY_HOST:
        return []
    name = f"ts_up_site_{index}"
    value = site.value.lower()
    if site.kind is ir.SiteKind.EXACT_HOST:
        conf.acl(name, "dstdomain", [value.strip(".") or value], flags="-n")
        return [name]
    if site.kind is ir.SiteKind.SUBDOMAINS:
        # squid's ".x" matches the apex too; tinyproxy's ".x" does not: a regex keeps the apex out.
        conf.acl(name, "dstdom_regex", [squid_token(r"\." + _ere_escape(value.strip(".")) + "$")], flags="-n -i")
        return [name]
    if site.kind is ir.SiteKind.TRAILING_DOT:
        conf.acl(name, "dstdom_regex", [r"\.$"], flags="-n")
        report.add(make("TS262", "upstream site \".\" (hosts written with a trailing dot) has no squid form: "
                        "squid strips the trailing dot while parsing the URL, so this route never applies",
                        source=SOURCE, span=route.origin,
                        consequence="requests for 'host.' take the next matching route (or go direct)"))
        return [name]
    # IP_NETWORK: only IP-literal hosts (tinyproxy never resolves names here). `dst` alone would
    # resolve hostnames, so it is ANDed with an IP-literal test that fails first for names (squid
    # normalises 127.1, 2130706433 and 0x7f.0.0.1 to dotted quads first: verified live).
    net = ipaddress.ip_network(value, strict=False)
    nets = AddressSet.of([net])
    if nets.is_everything():
        return ["ts_ip_literal"]
    conf.acl(name, "dst", [format_network(n) for n in nets.networks()])
    return ["ts_ip_literal", name]


def _upstream_matchers(acls: _Conf, upstream: ir.UpstreamPolicy, report: Report) -> list[list[str]]:
    """Declare each route's site ACLs into ``acls``; per route, the ACL names (ANDed) matching it."""
    matchers: list[list[str]] = []
    if upstream.routes:
        acls.comment("upstream route sites (tinyproxy: last matching scoped rule wins; here in evaluation order)")
    for i, route in enumerate(upstream.routes, 1):
        site = route.site
        label = "default" if site is None else f"{site.kind.value} {site.value}".strip()
        acls.comment(f"{_where(route.origin)} route {i}: {label} → {route.kind.value}"
                     + (f" {route.host}:{route.port}" if route.host else ""))
        matchers.append(_site_acls(acls, i, route, report))
    return matchers


def _upstream(conf: _Conf, upstream: ir.UpstreamPolicy, matchers: list[list[str]], report: Report) -> None:
    routes = upstream.routes
    if not routes:
        return
    conf.section("upstream routes, first match (sites are declared with the other ACLs)")
    peers: list[str] = []
    peer_access: list[str] = []
    for i, route in enumerate(routes, 1):
        if route.kind is ir.UpstreamKind.HTTP and not 0 < (route.port or 0) < 65536:
            # tinyproxy's documented "null route" (`upstream http 0.0.0.0:0 ".ads.com"`): the connect
            # fails and the client gets 502. squid refuses a peer on port 0 (FATAL), so the sites get
            # no peer at all; never_direct below keeps them from going direct (502/500).
            report.add(make("TS263", f"upstream {route.host}:{route.port} (port 0) is a null route: matching "
                            "requests fail, as in tinyproxy", source=SOURCE, span=route.origin))
            peers.append(f"# route {i}: {route.host}:{route.port} is a null route (no peer; requests fail)")
        elif route.kind is ir.UpstreamKind.HTTP:
            peer = f"ts_peer_{i}"
            host = (route.host or "").strip("[]")
            opts = f"no-query no-digest name={peer}"
            if route.credentials is not None:
                user = _clean(route.credentials.user).replace("%", "%%").replace(" ", "%20")
                placeholder = f"TS_UPSTREAM_PASSWORD_{i}"
                opts += f" login={user}:{placeholder}"
                report.add(make("TS261", f"the password of upstream {host}:{route.port} is written as "
                                f"{placeholder}", source=SOURCE, span=route.origin,
                                hint=f"replace {placeholder} at deploy time from a Secret (helm-secrets/SOPS, "
                                     "ArgoCD Vault Plugin or a post-renderer); write a literal % as %%"))
            peers.append(f"cache_peer {host} parent {route.port} 0 {opts}")
            for earlier in matchers[: i - 1]:
                peer_access.append(f"cache_peer_access {peer} deny {' '.join(earlier) or 'all'}")
            if matchers[i - 1]:
                peer_access.append(f"cache_peer_access {peer} allow {' '.join(matchers[i - 1])}")
                peer_access.append(f"cache_peer_access {peer} deny all")
            else:
                peer_access.append(f"cache_peer_access {peer} allow all")
        elif route.kind in (ir.UpstreamKind.SOCKS4, ir.UpstreamKind.SOCKS5):
            report.add(make("TS260", f"{route.kind.value} upstream {route.host}:{route.port} is not carried over; "
                            "matching requests fail instead of going direct", source=SOURCE, span=route.origin))
            peers.append(f"# route {i}: {route.kind.value} {route.host}:{route.port} has no squid form; an "
                         "HTTP-to-SOCKS bridge sidecar could be declared as:")
            peers.append(f"# cache_peer 127.0.0.1 parent 8118 0 no-query no-digest name=ts_peer_{i}")
    conf.lines.extend(peers)
    conf.lines.extend(peer_access)

    # always_direct is consulted before never_direct; both are first match. Walking the routes in
    # evaluation order, a DIRECT route says "always_direct allow", any other route "deny" (so a later
    # DIRECT route cannot capture it) plus "never_direct allow" (CONNECT, POST and authenticated
    # requests are non-hierarchical and would otherwise go direct).
    last_direct = max((i for i, r in enumerate(routes) if r.kind is ir.UpstreamKind.DIRECT), default=-1)
    for i, route in enumerate(routes):
        if i > last_direct:
            break
        verdict = "allow" if route.kind is ir.UpstreamKind.DIRECT else "deny"
        conf.add(f"always_direct {verdict} {' '.join(matchers[i]) or 'all'}")
    for i, route in enumerate(routes):
        if route.kind is not ir.UpstreamKind.DIRECT:
            conf.add(f"never_direct allow {' '.join(matchers[i]) or 'all'}")
