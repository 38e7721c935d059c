"""Parsed tinyproxy config (+ its filter file) → policy IR, with one fidelity finding per line.

The only module that knows both tinyproxy's model and the IR. It reproduces what tinyproxy LOADED,
not what the file seems to say: repeated scalars keep the last value, Filter flags OR-accumulate on
1.11 (last wins on 1.8/1.10, FilterDefaultDeny sticky), dropped rules keep their side effects (an
invalid Allow still makes the default deny), scoped upstream rules are prepended (so they are
evaluated newest first) and the first default wins. Sources: research notes §3–§6 and
``conf.c``/``acl.c``/``hostspec.c``/``upstream.c``/``filter.c`` at 1.8.4, 1.10.0, 1.11.1.

Each directive of :data:`~tinysquid.tinyproxy.directives.DIRECTIVES` has one small function here,
registered with ``@_lowers("Name")``; :func:`lower` runs them in file order over one
:class:`_Lowering` and builds the Policy from what they collected. Addresses are in
:mod:`~tinysquid.tinyproxy.hostspec`, upstream rules in :mod:`~tinysquid.tinyproxy.upstream`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Span
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.tinyproxy import filters as flt
from tinysquid.tinyproxy.directives import DIRECTIVES
from tinysquid.tinyproxy.findings import LineFindings
from tinysquid.tinyproxy.grammar import GRAMMARS, V1_11
from tinysquid.tinyproxy.hostspec import U32, inet_aton, parse_address, parse_hostspec
from tinysquid.tinyproxy.nodes import Config, Stmt
from tinysquid.tinyproxy.parser import check_text, decode_text, fail
from tinysquid.tinyproxy.upstream import describe_route, lower_upstream

ANONYMOUS_IMPLICIT = ("Content-Length", "Content-Type")  # main.c adds these when Anonymous is used

# Scalars: the last occurrence wins; earlier ones get TS129 and are not lowered.
_LAST_WINS = {"Port", "Timeout", "MaxClients", "ViaProxyName", "DisableViaHeader", "XTinyproxy", "Filter",
              "User", "Group", "PidFile", "LogFile", "Syslog", "LogLevel", "StatHost", "StatFile",
              "DefaultErrorFile", "BindSame", "ReverseOnly", "ReverseMagic", "ReverseBaseURL"}
_OBSOLETE = ("MaxSpareServers", "MinSpareServers", "StartServers", "MaxRequestsPerChild")
_FLAGS = {"FilterURLs": "url", "FilterExtended": "ere", "FilterCaseSensitive": "cs", "FilterDefaultDeny": "dd"}


@dataclass
class _Lowering:
    """What the directive functions collect while :func:`lower` walks the file."""

    st: LineFindings
    last: dict[str, Stmt]
    config_path: Path
    root: Path | None
    listen: list[str] = field(default_factory=list)
    listen_origins: list[Span] = field(default_factory=list)
    client_rules: list[ir.ClientRule] = field(default_factory=list)
    any_acl: bool = False
    connect_ports: set[int] = field(default_factory=set)
    connect_origins: list[Span] = field(default_factory=list)
    any_connect: bool = False
    add_headers: list[ir.AddedHeader] = field(default_factory=list)
    anonymous: list[str] = field(default_factory=list)
    anonymous_origins: list[Span] = field(default_factory=list)
    users: list[ir.BasicAuthUser] = field(default_factory=list)
    upstream_scoped: list[ir.UpstreamRoute] = field(default_factory=list)
    upstream_default: ir.UpstreamRoute | None = None
    default_line: int = 0
    flag_values: dict[str, bool] = field(
        default_factory=lambda: {"url": False, "ere": False, "cs": False, "dd": False, "fnmatch": False})
    flag_lines: dict[str, Stmt] = field(default_factory=dict)


_Lower = Callable[[_Lowering, Stmt], None]
_LOWERINGS: dict[str, _Lower] = {}


def _lowers(*names: str) -> Callable[[_Lower], _Lower]:
    """Register the decorated function as the lowering of the directives ``names``."""
    def register(fn: _Lower) -> _Lower:
        for name in names:
            if name in _LOWERINGS:
                raise RuntimeError(f"two lowerings for {name}")
            _LOWERINGS[name] = fn
        return fn
    return register


def lower(config: Config, *, version: str, config_path: Path, root: Path | None, report: Report) -> ir.Policy:
    """Lower ``config`` to a Policy, loading the filter file; findings go to ``report``."""
    st = LineFindings(GRAMMARS[version], config.path, report)
    last: dict[str, Stmt] = {}
    for s in config.stmts:
        if s.name in _LAST_WINS:
            if s.name in last:
                prev = last[s.name]
                st.status("TS129", f"{prev.name} is overridden by line {s.span.line}", prev.span,
                          consequence="tinyproxy used the later value; so does the conversion")
            last[s.name] = s
    port_stmt, port = _port(st, last, config.path)
    lw = _Lowering(st, last, config_path, root)
    for s in config.stmts:
        if s.name not in _LAST_WINS or s is last[s.name]:
            _LOWERINGS[s.name](lw, s)
    policy = _policy(lw, config, port_stmt, port)
    report.extend(st.findings.values())
    report.extend(st.extra)
    return policy


def _port(st: LineFindings, last: dict[str, Stmt], path: str) -> tuple[Stmt, int]:
    """Port, before any other line: values > 65535 were refused by the parser (handle_port); 0 or
    none refuses to start."""
    port = last["Port"].args[0] & U32 if "Port" in last else 0
    if port == 0:
        span = last["Port"].arg_span() if "Port" in last else Span(path, 1)
        raise fail("TS106", "no Port is set (or Port is 0): tinyproxy refuses to start", span)
    port_stmt = last["Port"]
    octal = " (octal)" if port_stmt.args[1].startswith("0") and port_stmt.args[1] != "0" else ""
    st.exact(f"Port {port_stmt.args[1]} → listens on port {port}{octal}", port_stmt.span)
    return port_stmt, port


def _policy(lw: _Lowering, config: Config, port_stmt: Stmt, port: int) -> ir.Policy:
    last = lw.last
    destinations = _filter_policy(lw.st, last.get("Filter"), lw.flag_values, lw.flag_lines, lw.config_path,
                                  lw.root)
    headers = ir.HeaderPolicy(
        via=not (last["DisableViaHeader"].args[0] if "DisableViaHeader" in last else False),
        via_name=last["ViaProxyName"].args[0] if "ViaProxyName" in last else None,
        add=tuple(lw.add_headers),
        allow_only=_header_names([*lw.anonymous, *ANONYMOUS_IMPLICIT]) if lw.anonymous else None,
        client_ip_header="X-Tinyproxy" if "XTinyproxy" in last and last["XTinyproxy"].args[0] else None,
        allow_only_origins=tuple(lw.anonymous_origins),
    )
    timeout = (last["Timeout"].args[0] & U32) if "Timeout" in last else 600
    limits = ir.Limits(
        idle_timeout=timeout or 600,
        max_clients=(last["MaxClients"].args[0] & U32) if "MaxClients" in last else 100,
        timeout_origin=last["Timeout"].span if "Timeout" in last else None,
        max_clients_origin=last["MaxClients"].span if "MaxClients" in last else None,
    )
    routes = list(lw.upstream_scoped)
    if lw.upstream_default is not None:
        routes.append(lw.upstream_default)
    return ir.Policy(
        listener=ir.Listener(port=port, addresses=tuple(lw.listen), origin=port_stmt.span,
                             address_origins=tuple(lw.listen_origins)),
        clients=ir.ClientPolicy(tuple(lw.client_rules), ir.Action.DENY if lw.any_acl else ir.Action.ALLOW),
        connect=ir.ConnectPolicy(frozenset(lw.connect_ports) if lw.any_connect else None,
                                 tuple(lw.connect_origins)),
        destinations=destinations,
        upstream=ir.UpstreamPolicy(tuple(routes)),
        auth=ir.AuthPolicy(tuple(lw.users), realm="Tinyproxy") if lw.users else None,
        headers=headers,
        limits=limits,
        sources=tuple(dict.fromkeys([config.path, *lw.st.sources])),
    )


# --------------------------------------------------------------------------- one function per directive


@_lowers("Port")
def _lower_port(lw: _Lowering, s: Stmt) -> None:
    """Lowered first, by :func:`_port`: no Port refuses the file before any other line counts."""


@_lowers("Listen")
def _lower_listen(lw: _Lowering, s: Stmt) -> None:
    addr = s.args[0]
    if parse_address(addr) is None or (":" not in addr and inet_aton(addr) is None):
        raise fail("TS101", f"Listen {addr!r} is not an address tinyproxy can listen on", s.arg_span())
    lw.listen.append(addr)
    lw.listen_origins.append(s.span)
    lw.st.exact(f"Listen {addr}", s.span)


@_lowers("Allow", "Deny")
def _lower_acl(lw: _Lowering, s: Stmt) -> None:
    n, a, span, st = s.name, s.args, s.span, lw.st
    lw.any_acl = True
    action = ir.Action.ALLOW if n == "Allow" else ir.Action.DENY
    spec = parse_hostspec(a[0], dotted_masks=False)
    if spec is None:
        st.status("TS120", f"{n} {a[0]}: not a valid address; tinyproxy warns and drops the entry",
                  span, consequence="the entry matches no client, but the rule list still makes the "
                  "default deny: clients no other rule admits are refused")
    elif isinstance(spec, str):
        lw.client_rules.append(ir.ClientRule(action, ir.ClientHostname(spec.lower()), span))
        st.exact(f"{n} {a[0]}: hostname entry (forward lookup or reverse-DNS suffix match)", span)
    else:
        lw.client_rules.append(ir.ClientRule(action, ir.ClientNetwork(spec), span))
        same = a[0] in (str(spec), str(spec.network_address)) and (
            "/" in a[0] or spec.prefixlen == spec.max_prefixlen)
        shown = "" if same else f" = {spec}"
        st.exact(f"{n} {a[0]}{shown}", span)


@_lowers("ConnectPort")
def _lower_connect_port(lw: _Lowering, s: Stmt) -> None:
    parsed, text = s.args
    value = parsed & 0xFFFFFFFF  # add_connect_port_allowed(int port): strtoul's value cut to 32 bits
    value = value - (1 << 32) if value >= 1 << 31 else value
    truncated = f" (tinyproxy keeps the low 32 bits of {parsed})" if value != parsed else ""
    lw.any_connect = True
    lw.connect_origins.append(s.span)
    if 1 <= value <= 65535:
        lw.connect_ports.add(value)
        lw.st.exact(f"ConnectPort {text} → CONNECT allowed to port {value}{truncated}", s.span)
    else:
        lw.st.exact(f"ConnectPort {text}{truncated}: no CONNECT port is {value}; with no other ConnectPort, "
                    "CONNECT is refused entirely", s.span)


@_lowers("Filter")
def _lower_filter(lw: _Lowering, s: Stmt) -> None:
    # Findings on pattern lines name the file as the config names it; say here which local
    # file that was, so a user who copied the config off the host can open it.
    named = s.args[0]
    found = flt.find_filter(named, lw.config_path, lw.root)
    read_from = f" (read from {found})" if found is not None and str(found) != named else ""
    lw.st.exact(f"Filter {named!r}{read_from}", s.span)


@_lowers(*_FLAGS, "FilterType")
def _lower_filter_flag(lw: _Lowering, s: Stmt) -> None:
    _filter_flag(lw.st, s, lw.flag_values, lw.flag_lines)


@_lowers("Upstream", "No Upstream")
def _lower_upstream(lw: _Lowering, s: Stmt) -> None:
    route, problem = lower_upstream(lw.st, s)
    if route is None:
        return
    if route.site is None:
        if lw.upstream_default is not None:
            lw.st.status("TS122", f"duplicate default upstream (the first, line {lw.default_line}, wins)",
                         s.span, consequence="tinyproxy drops this rule; so does the conversion")
            return
        lw.upstream_default, lw.default_line = route, s.span.line
    else:
        lw.upstream_scoped.insert(0, route)  # upstream_add prepends scoped rules
    if not problem:
        lw.st.exact(describe_route(route, s.args[0]), s.span)


@_lowers("Timeout")
def _lower_timeout(lw: _Lowering, s: Stmt) -> None:
    value = s.args[0] & U32
    if value == 0:
        lw.st.note("TS127", "Timeout 0 means 600 seconds (tinyproxy warns)", s.span)
    lw.st.exact(f"Timeout {s.args[1]} → {value or 600} s idle timeout", s.span)


@_lowers("MaxClients")
def _lower_max_clients(lw: _Lowering, s: Stmt) -> None:
    lw.st.exact(f"MaxClients {s.args[1]} → {s.args[0] & U32} concurrent clients", s.span)


@_lowers("ViaProxyName")
def _lower_via_proxy_name(lw: _Lowering, s: Stmt) -> None:
    lw.st.exact(f"ViaProxyName {s.args[0]!r}", s.span)


@_lowers("DisableViaHeader", "XTinyproxy")
def _lower_header_switch(lw: _Lowering, s: Stmt) -> None:
    lw.st.exact(f"{s.name} {'yes' if s.args[0] else 'no'}", s.span)


@_lowers("AddHeader")
def _lower_add_header(lw: _Lowering, s: Stmt) -> None:
    name, value = s.args
    lw.add_headers.append(ir.AddedHeader(name, value, s.span))
    lw.st.exact(f"AddHeader {name!r}", s.span)


@_lowers("Anonymous")
def _lower_anonymous(lw: _Lowering, s: Stmt) -> None:
    lw.anonymous.append(s.args[0])
    lw.anonymous_origins.append(s.span)
    lw.st.exact(f"Anonymous {s.args[0]!r}: header allowed through", s.span)


@_lowers("BasicAuth")
def _lower_basic_auth(lw: _Lowering, s: Stmt) -> None:
    user, password = s.args
    if len(user) + 1 + len(password.reveal()) > 256:
        lw.st.status("TS132", f"BasicAuth for user {user!r}: credentials longer than 256 bytes are "
                     "dropped by tinyproxy", s.span)
    else:
        lw.users.append(ir.BasicAuthUser(user, password, s.span))
        lw.st.exact(f"BasicAuth user {user!r} (password kept as a secret)", s.span)


@_lowers("Bind")
def _lower_bind(lw: _Lowering, s: Stmt) -> None:
    lw.st.status("TS201", f"Bind {s.args[0]}: outgoing source address", s.span,
                 consequence="connections to origins leave from the pod's address, not this one")


@_lowers("BindSame")
def _lower_bind_same(lw: _Lowering, s: Stmt) -> None:
    if s.args[0]:
        lw.st.status("TS201", "BindSame yes: outgoing source = the address the client used", s.span,
                     consequence="connections to origins leave from the pod's address")
    else:
        lw.st.exact("BindSame no (the default)", s.span)


@_lowers("LogFile", "Syslog", "LogLevel")
def _lower_logging(lw: _Lowering, s: Stmt) -> None:
    lw.st.status("TS202", f"{s.name}: not applicable on Kubernetes (squid logs to stdout)", s.span,
                 consequence="log destination and level change; nothing changes for clients")


@_lowers("User", "Group", "PidFile")
def _lower_process(lw: _Lowering, s: Stmt) -> None:
    lw.st.exact(f"{s.name}: not applicable on Kubernetes (the image and securityContext decide)", s.span,
                consequence="nothing changes for clients")


@_lowers(*_OBSOLETE)
def _lower_preforking(lw: _Lowering, s: Stmt) -> None:
    if lw.st.g.version == V1_11:
        lw.st.status("TS125", f"{s.name}: obsolete on tinyproxy 1.11, which ignores it", s.span,
                     consequence="nothing: tinyproxy ignored it too")
    else:
        lw.st.status("TS206", f"{s.name}: preforking knob, not applicable on Kubernetes", s.span,
                     consequence="squid's process model differs; concurrency is bounded by MaxClients "
                     "and the pod count")


@_lowers("StatHost", "StatFile")
def _lower_stats(lw: _Lowering, s: Stmt) -> None:
    lw.st.status("TS203", f"{s.name}: tinyproxy's statistics page is not carried over", s.span,
                 consequence="requests for the stats host are proxied or refused like any other")


@_lowers("ErrorFile", "DefaultErrorFile")
def _lower_error_pages(lw: _Lowering, s: Stmt) -> None:
    lw.st.status("TS204", f"{s.name}: custom error page body is not carried over", s.span,
                 consequence="same status codes, squid's own page text")


@_lowers("ReversePath", "ReverseOnly", "ReverseMagic", "ReverseBaseURL")
def _lower_reverse(lw: _Lowering, s: Stmt) -> None:
    lw.st.status("TS205", f"{s.name}: reverse-proxy directive not carried over", s.span,
                 consequence="requests that relied on the reverse mapping are treated as forward-proxy "
                             "requests")


@_lowers("BasicAuthRealm")
def _lower_basic_auth_realm(lw: _Lowering, s: Stmt) -> None:
    """Not reachable on the supported versions (1.11.3+ only)."""
    lw.st.status("TS205", f"{s.name}", s.span)


if set(_LOWERINGS) != {d.name for d in DIRECTIVES}:  # the directive table and this one must agree
    raise RuntimeError(f"lowerings out of step with DIRECTIVES: {set(_LOWERINGS) ^ {d.name for d in DIRECTIVES}}")


def _header_names(names: list[str]) -> tuple[str, ...]:
    """Header names without case-insensitive duplicates (anonymous.c keys them case-insensitively)."""
    seen: dict[str, str] = {}
    for n in names:
        seen.setdefault(n.lower(), n)
    return tuple(seen.values())


# --------------------------------------------------------------------------- filter flags and file


def _filter_flag(st: LineFindings, s: Stmt, values: dict[str, bool], lines: dict[str, Stmt]) -> None:
    g = st.g
    if s.name == "FilterType":
        text = s.args[0]
        if text not in ("bre", "ere", "fnmatch"):  # handle_filtertype uses strcmp (1.11.1)
            st.status("TS126", f"FilterType {text}: tinyproxy 1.11.1 compares the value case-sensitively "
                      "and ignores it", s.span, consequence="the filter keeps its previous type "
                      "(BRE unless set otherwise); the conversion does the same")
            return
        if text == "bre":
            st.exact("FilterType bre" + (" (no effect: an earlier line chose ere/fnmatch, which take "
                                         "precedence)" if values["ere"] or values["fnmatch"] else ""), s.span)
            return
        values[text] = True
        lines[text] = s
        st.exact(f"FilterType {text}", s.span)
        return
    key = _FLAGS[s.name]
    value = bool(s.args[0])
    word = "yes" if value else "no"
    if g.filter_flags_or:
        if not value and values[key]:
            st.status("TS129", f"{s.name} {word}: no effect, an earlier `yes` (line {lines[key].span.line}) "
                      "cannot be undone on tinyproxy 1.11", s.span,
                      consequence=f"{s.name} stays on, in tinyproxy and in the conversion")
            return
        if value:
            values[key] = True
            lines[key] = s
    else:
        if key == "dd":  # 1.8–1.11.0: a static global that nothing resets
            if not value and values[key]:
                st.status("TS129", f"{s.name} {word}: no effect, FilterDefaultDeny yes is sticky on "
                          f"tinyproxy {g.version}", s.span, consequence="the filter stays an allowlist")
                return
            if value:
                values[key] = True
                lines[key] = s
        else:
            if key in lines:
                prev = lines[key]
                st.status("TS129", f"{prev.name} is overridden by line {s.span.line}", prev.span,
                          consequence="tinyproxy used the later value; so does the conversion")
            values[key] = value
            lines[key] = s
    st.exact(f"{s.name} {word}", s.span)


def _filter_policy(st: LineFindings, filt: Stmt | None, values: dict[str, bool], lines: dict[str, Stmt],
                   config_path: Path, root: Path | None) -> ir.DestPolicy | None:
    if filt is None:
        for stmt in lines.values():
            st.status("TS129", f"{stmt.name}: no effect without a Filter line", stmt.span,
                      consequence="no destination filtering, in tinyproxy and in the conversion")
        return None
    named = filt.args[0]
    found = flt.find_filter(named, config_path, root)
    if found is None:
        return _missing_filter(st, filt, values, lines, config_path, root)
    try:
        data = found.read_bytes()
    except OSError as exc:
        raise fail("TS001", f"cannot read filter file {named!r}: {exc.strerror}", filt.arg_span()) from None
    decode_text(data, named)
    st.sources.append(named)
    patterns = _patterns(st, data, named, values)
    default = ir.Action.DENY if values["dd"] else ir.Action.ALLOW
    subject = ir.MatchSubject.URL if values["url"] else ir.MatchSubject.HOST
    return ir.DestPolicy(subject=subject, default=default, patterns=patterns, origin=filt.span,
                         subject_origin=lines["url"].span if values["url"] and "url" in lines else None)


def _missing_filter(st: LineFindings, filt: Stmt, values: dict[str, bool], lines: dict[str, Stmt],
                    config_path: Path, root: Path | None) -> ir.DestPolicy:
    g, named = st.g, filt.args[0]
    tried = ", ".join(str(p) if not Path(p).is_absolute() or str(p) == named else "…/" + Path(p).name
                      for p in flt.candidate_paths(named, config_path, root))
    if g.filter_missing_fatal:
        raise fail("TS108", f"filter file {named!r} not found (looked at: {tried}); tinyproxy 1.11 "
                   "exits at startup without it", filt.arg_span())
    # filter.c 1.8.4/1.10.0: filter_init returns silently; filter_domain/filter_url then answer with
    # the default policy alone — allow everything, or refuse everything under FilterDefaultDeny.
    default = ir.Action.DENY if values["dd"] else ir.Action.ALLOW
    effect = ("every request is refused (FilterDefaultDeny)" if values["dd"] else "nothing is filtered")
    st.status("TS128", f"filter file {named!r} not found: tinyproxy {g.version} runs with no filter rules",
              filt.span, consequence=f"{effect}, in tinyproxy and in the conversion")
    return ir.DestPolicy(subject=ir.MatchSubject.URL if values["url"] else ir.MatchSubject.HOST,
                         default=default, patterns=(), origin=filt.span,
                         subject_origin=lines["url"].span if values["url"] and "url" in lines else None)


def _patterns(st: LineFindings, data: bytes, named: str, values: dict[str, bool]) -> tuple[ir.DestPattern, ...]:
    """The filter file's patterns, translated to ERE, with one finding per pattern line."""
    g = st.g
    if values["fnmatch"]:
        syntax = ir.PatternSyntax.FNMATCH
    elif values["ere"]:
        syntax = ir.PatternSyntax.ERE
    else:
        syntax = ir.PatternSyntax.BRE
    cs = values["cs"] or syntax is ir.PatternSyntax.FNMATCH
    patterns: list[ir.DestPattern] = []
    for line in flt.lex_filter(data, g):
        span = Span(named, line.lineno, line.col)
        if line.ignored:
            st.status("TS131", f"indented filter line {line.pattern!r} is ignored by tinyproxy {g.version}",
                      span, consequence="the pattern never applied, and is not carried over")
            continue
        check_text(line.pattern, named, line.lineno, line.col)
        try:
            tr = flt.translate(line.pattern, syntax, values["cs"])
        except rx.RegexError as exc:
            raise fail("TS109", f"bad {syntax.value.upper()} pattern {line.pattern!r}: {exc}; tinyproxy "
                       "exits at startup", span) from None
        patterns.append(ir.DestPattern(regex=tr.ere, case_sensitive=cs, syntax=syntax,
                                       source_text=line.pattern, origin=span))
        shown = "" if tr.ere == line.pattern else f" → {tr.ere}"
        if line.cut:
            st.status("TS130", f"pattern {line.pattern!r}: {line.cut}", span,
                      consequence=f"only {line.pattern!r} applies, in tinyproxy and in the conversion{shown}")
        else:
            kw = {}
            if tr.never_part:
                kw["consequence"] = ("part of this pattern never matches: glibc with REG_ICASE never matches an "
                                     "escaped lower-case letter such as \\d; the translation keeps that")
            st.exact(f"{syntax.value} pattern {line.pattern!r}{shown}", span, **kw)
    return tuple(patterns)


__all__ = ["ANONYMOUS_IMPLICIT", "U32", "inet_aton", "lower", "parse_address", "parse_hostspec"]
