"""Policy IR → squid.conf text, loadable by squid 5.7, 6.13 and 7.x. A pure printer: every
decision is already in the IR (client sets from the ``decide`` pass), every filter value comes from
the emission layer :mod:`tinysquid.squid.acls`.

The http_access block reproduces tinyproxy's request pipeline and its status codes (research notes
tinyproxy §2): squid's OWN manager pages (localhost only, for the chart's exporter sidecar; only the
proxy's name and port, which squid serves itself) → client rules (403) → Basic auth (407) → CONNECT
ports (403) → destination filter (403) → hardening ``dst`` (403; after the filter, so a refusal
never waits on DNS) → allow, and always ends with ``http_access deny all``. Upstream routes become
cache_peer + cache_peer_access + always_direct/never_direct lists that reproduce first-match route
selection (a SOCKS route: no peer, its requests refused by http_access before the final allow, and
never_direct as well, so they fail closed).

The Conf is rendered once; the standalone squid.conf and the chart's copy are two transformations
of it (:func:`_finish`): the chart copy takes http_port/shutdown from values, keeps the pid file in
the spool dir, drops per-entry comments (the ConfigMap caps at 1 MiB) and escapes ``{{`` for tpl.

Pitfalls handled here (squid-and-chart.md §3): ACL values inline and lines < 8 KB; no overlapping
``src``/``dst`` CIDRs (squid ≤6 drops the wider one) and no overlapping ``dstdomain`` entries (FATAL);
our own ``ts_`` ACL names (5.7 lacks ``to_linklocal``); ``-n`` on every domain ACL so an IP-literal
request is never matched through its reverse-DNS name (tinyproxy only ever tests the host string);
time values with units; no comment ever carries a control or YAML line-break character.
"""
from __future__ import annotations

import re

from tinysquid._version import __version__
from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import make
from tinysquid.policy import ir
from tinysquid.squid import acls, url_decoding
from tinysquid.squid.acls import client_name_value, has_uppercase_literal
from tinysquid.squid.conf import (  # noqa: F401  (re-exported: tests, auth.py)
    _CHART_ONLY,
    _ENTRY,
    _IP_LITERAL_RES,
    _PLAIN_ONLY,
    _TPL_PORT,
    _TPL_SHUTDOWN,
    CACHE_OBJECT_VERSIONS,
    CHART_SPOOL,
    DEFAULT_SHUTDOWN_SECONDS,
    DEFAULT_VISIBLE_HOSTNAME,
    MAX_ACL_LINE,
    NCSA_HELPER,
    PASSWD_PATH,
    SOURCE,
    SQUID_VERSIONS,
    _clean,
    _Conf,
    _either,
    _ere_escape,
    _finish,
    _net_text,
    _where,
    _where_all,
    canonical_domains,
    posix_ere_error,
    squid_token,
)
from tinysquid.squid.upstream import _hardening_rules, _socks_denials, _upstream, _upstream_matchers

__all__ = ["CHART_SPOOL", "DEFAULT_VISIBLE_HOSTNAME", "HEADER_SECRET_MANIFEST", "NCSA_HELPER", "PASSWD_PATH",
           "SQUID_VERSIONS", "canonical_domains", "has_uppercase_literal", "header_placeholder",
           "is_credential_header", "posix_ere_error", "render_squid_conf", "render_squid_confs",
           "squid_quoted_value", "squid_token"]

# --------------------------------------------------------------------------- entry point


def render_squid_conf(policy: ir.Policy, *, squid_version: str = "6", for_chart: bool = False,
                      report: Report) -> str:
    """A complete squid.conf for ``policy``.

    ``for_chart=False``: literal values (listening on the tinyproxy Port). ``for_chart=True``: the
    younsl chart's invariants (http_port/shutdown_lifetime from values, pid file in the spool dir),
    per-entry comments dropped and every literal ``{{`` escaped for Helm ``tpl``. Findings about
    inexact translations go to ``report``, located on the IR node's ``origin``.
    """
    return _finish(_render(policy, squid_version, report), for_chart)


def render_squid_confs(policy: ir.Policy, *, squid_version: str = "6", report: Report) -> tuple[str, str]:
    """Both files ``convert`` writes: (standalone squid.conf, the chart's copy), from ONE rendering
    (findings reported once); the chart copy is a transformation of the same lines."""
    conf = _render(policy, squid_version, report)
    return _finish(conf, False), _finish(conf, True)


def _render(policy: ir.Policy, squid_version: str, report: Report) -> _Conf:
    if squid_version not in SQUID_VERSIONS:
        raise ValueError(f"squid_version must be one of {', '.join(SQUID_VERSIONS)}, not {squid_version!r}")
    conf = _Conf()
    _header(conf, policy, squid_version)
    _listener(conf, policy, report)
    _general(conf, policy, report)
    _headers(conf, policy.headers, report)
    upstream_acls = _Conf()
    matchers = _upstream_matchers(upstream_acls, policy.upstream, report)
    self_port = _either(str(policy.listener.port), _TPL_PORT)
    _access(conf, policy, upstream_acls, matchers, report, visible_hostname=_visible_hostname(policy.headers),
            self_port=self_port, cache_object=squid_version in CACHE_OBJECT_VERSIONS)
    _upstream(conf, policy.upstream, matchers, report)
    dest = policy.destinations
    if squid_version == "7" and dest is not None and dest.subject is ir.MatchSubject.URL:
        report.add(make("TS279", "squid 7 leaves a URL with any invalid %-sequence undecoded and ends it at %00: "
                        "the FilterURLs checks were made for the decoding of squid 5/6", source=SOURCE,
                        span=dest.subject_origin or dest.origin))  # on the FilterURLs line it names
    return conf


def _header(conf: _Conf, policy: ir.Policy, squid_version: str) -> None:
    conf.comment(f"Generated by tinysquid {__version__} — re-run `tinysquid convert` instead of editing.")
    for src in policy.sources or ("(unknown source)",):
        conf.comment(f"Source: {src}")
    conf.plain(f"# Target: squid {squid_version}.x, a plain squid.conf. Comments name the tinyproxy line of "
               "each rule.")
    conf.chart(f"# Target: squid {squid_version}.x, the younsl squid Helm chart (rendered through tpl). "
               "Per-entry comments are in the standalone squid.conf and the report.")


def _listener(conf: _Conf, policy: ir.Policy, report: Report) -> None:
    conf.section("listening")
    listener = policy.listener
    conf.chart(f"# {_clean(_where(listener.origin))} Port {listener.port}: the Service keeps it; the pod "
               "listens on service.targetPort")
    conf.chart(f"http_port {_TPL_PORT}")  # Listen addresses: reported by the Helm back end (TS274)
    conf.plain(f"# {_clean(_where(listener.origin))} Port {listener.port}")
    if not listener.addresses:
        conf.plain(f"http_port {listener.port}")
    for addr in listener.addresses:
        host = f"[{addr.strip('[]')}]" if ":" in addr else addr
        conf.plain(f"http_port {host}:{listener.port}")


def _general(conf: _Conf, policy: ir.Policy, report: Report) -> None:
    conf.section("process, cache, DNS, timeouts")
    conf.chart("# the chart's preStop hook finds squid through this pid file (writable by uid 13)")
    conf.chart(f"pid_filename {CHART_SPOOL}/squid.pid")
    conf.chart(f"coredump_dir {CHART_SPOOL}")
    conf.chart("logfile_rotate 0")
    conf.add(f"shutdown_lifetime {_either(str(DEFAULT_SHUTDOWN_SECONDS), _TPL_SHUTDOWN)} seconds")
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
    if headers.forwarded_for != "passthrough":
        report.add(make("TS292", f"X-Forwarded-For handling {headers.forwarded_for!r} has no squid form here; "
                        "the client's own header is passed through", source=SOURCE,
                        subject="headers.forwarded_for"))
    conf.add(f"via {'on' if headers.via else 'off'}")
    conf.add(f"visible_hostname {_visible_hostname(headers)}")
    allowed = {h.lower() for h in headers.allow_only} if headers.allow_only is not None else None
    for i, added in enumerate(headers.add, 1):
        secret = is_credential_header(added.name)
        shown = "***" if secret else added.value
        conf.comment(f"{_where(added.origin)} AddHeader {added.name} {shown}")
        if allowed is not None and added.name.lower() not in allowed:
            # tinyproxy appends AddHeader to the client's headers before the Anonymous filter runs,
            # so a header missing from the Anonymous list never reaches the server.
            conf.comment("not emitted: Anonymous does not list it, so tinyproxy never forwarded it")
            continue
        if secret:
            placeholder = header_placeholder(i)
            report.add(make("TS285", f"the value of AddHeader {added.name} is a credential: written as "
                            f"{placeholder}, the value is in {HEADER_SECRET_MANIFEST}", source=SOURCE,
                            span=added.origin,
                            hint=f"replace {placeholder} at deploy time from the Secret (helm-secrets/SOPS, "
                                 "ArgoCD Vault Plugin or a post-renderer)"))
        value = placeholder if secret else squid_quoted_value(added.value)
        conf.add(f'request_header_add {_header_name(added.name)} "{value}" all')
        report.add(make("TS270", f"AddHeader {added.name} is appended even when the client sent that header",
                        source=SOURCE, span=added.origin))
    if headers.client_ip_header:
        conf.comment(f"{headers.client_ip_header}: the client's address")
        conf.add(f'request_header_add {_header_name(headers.client_ip_header)} "%>a" all')
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
        # every Anonymous line is part of the list squid approximates: each gets the finding
        for origin in headers.allow_only_origins or (None,):
            report.add(make("TS271", "Anonymous header allow list translated to request_header_access",
                            source=SOURCE, span=origin))


HEADER_SECRET_MANIFEST = "squid-header-secret.yaml"
_CREDENTIAL_HEADER = re.compile(r"(?i)authori[sz]ation|cookie|token|secret|passw|api[-_]?key|credential|session")


def is_credential_header(name: str) -> bool:
    """Whether an added header's value is treated as a secret (Authorization, Proxy-Authorization,
    Cookie, *-Token, *Api-Key*, …): never written in plaintext to squid.conf or values.yaml."""
    return bool(_CREDENTIAL_HEADER.search(name))


def squid_quoted_value(value: str) -> str:
    """``value`` for the inside of a squid ``"…"`` header value (% is squid's format escape)."""
    return _clean(value).replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')


def header_placeholder(index: int) -> str:
    """The placeholder written for the ``index``-th (1-based) AddHeader value when it is a credential."""
    return f"TS_HEADER_VALUE_{index}"


def _visible_hostname(headers: ir.HeaderPolicy) -> str:
    if headers.via_name:
        return re.sub(r"[^A-Za-z0-9._-]", "-", headers.via_name).lstrip("-") or DEFAULT_VISIBLE_HOSTNAME
    return DEFAULT_VISIBLE_HOSTNAME


def _header_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9!#$&'*+.^_`|~-]", "-", name) or "X-Invalid"


# --------------------------------------------------------------------------- access rules


def _access(conf: _Conf, policy: ir.Policy, upstream_acls: _Conf, matchers: list[list[str]],
            report: Report, *, visible_hostname: str, self_port: str, cache_object: bool) -> None:
    acl_lines = _Conf()
    rules: list[str] = []

    # manager: only squid's OWN pages (its visible hostname and port: what squid serves internally,
    # never forwards), for the exporter sidecar on localhost. Any other /squid-internal-mgr/ URL is
    # ordinary traffic and meets the client rules, auth and the filter below like every request.
    acl_lines.comment("squid's own cache-manager pages (served internally, never forwarded)")
    acl_lines.acl("ts_self_host", "dstdomain", [visible_hostname.lower()], flags="-n")
    acl_lines.acl("ts_self_port", "port", [self_port])
    rules.append("# squid-exporter sidecar (localhost) may read squid's own manager pages; nobody else")
    rules.append("http_access allow localhost manager ts_self_host ts_self_port")
    rules.append("http_access deny manager ts_self_host ts_self_port")
    if cache_object:
        # squid 5/6 answer cache_object://ANY-HOST/ from the cache manager itself (never forwarded);
        # tinyproxy refused the scheme, so refusing it to everyone but localhost widens nothing.
        acl_lines.acl("ts_cache_object", "url_regex", ["^cache_object://"], flags="-i")
        rules.append("http_access allow localhost ts_cache_object")
        rules.append("http_access deny ts_cache_object")
    if not policy.hardening.manager_localhost_only:
        report.add(make("TS289", "squid's own cache-manager pages answer to localhost only (the metrics "
                        "sidecar needs them); emitted without --harden too", source=SOURCE,
                        subject="hardening.manager_localhost_only"))

    _client_rules(acl_lines, rules, policy.clients, report)
    if policy.auth is not None:
        _auth(acl_lines, rules, policy.auth, report)
    _connect_rules(acl_lines, rules, policy.connect)
    filter_rules, final_allow = _dest_rules(acl_lines, policy.destinations, report)
    rules.extend(filter_rules)
    needs_ip_literal = any("ts_ip_literal" in m for m in matchers)
    if policy.hardening.deny_destinations and final_allow is not None:
        # After the filter: `dst` resolves the host name, so only requests that would otherwise be
        # allowed are looked up (a refusal never waits on DNS, and refused names are never resolved).
        acl_lines.comment("hardening: cloud metadata / link-local destinations")
        acl_lines.acl("ts_deny_dst", "dst", [_net_text(n) for n in policy.hardening.deny_destinations])
        hard_rules = _hardening_rules(policy.upstream, matchers)
        needs_ip_literal = needs_ip_literal or any("ts_ip_literal" in r for r in hard_rules)
        rules.extend(hard_rules)
    if final_allow is not None:
        rules.extend(_socks_denials(upstream_acls, policy.upstream, matchers))
        rules.append(final_allow)
    rules.append("# explicit terminal rule")
    rules.append("http_access deny all")

    conf.section("access control lists")
    if needs_ip_literal:
        conf.comment("the request names an IP address, not a host name (squid normalises 127.1, 2130706433 "
                     "and 0x7f.0.0.1 to dotted quads before ACLs see them: verified live)")
        conf.acl("ts_ip_literal", "dstdom_regex", list(_IP_LITERAL_RES), flags="-n -i")
    conf.lines.extend(upstream_acls.lines)
    conf.lines.extend(acl_lines.lines)
    conf.section("http_access: manager → clients (403) → auth (407) → CONNECT ports (403) → filter (403) "
                 "→ hardening (403)")
    conf.lines.extend(rules)


def _client_rules(acls: _Conf, rules: list[str], clients: ir.ClientPolicy, report: Report) -> None:
    if not clients.rules:
        acls.comment("no Allow/Deny: tinyproxy admits every client")
        if clients.default is ir.Action.DENY:
            rules.append("http_access deny all")
        return
    decision = clients.decided
    if decision is None:
        raise ValueError("the client decisions are missing: run the policy passes (decide_clients) first")
    for rule in clients.rules:
        what = (rule.match.network if isinstance(rule.match, ir.ClientNetwork) else rule.match.name)
        acls.comment(f"{_where(rule.origin)} {rule.action.value.title()} {what}")
    rules.append("# client rules (first match, default deny), computed as exact address sets")
    for j, gate in enumerate(decision.gates, 1):
        if gate.admitted_before is None or not isinstance(gate.rule.match, ir.ClientHostname):
            continue
        name = gate.rule.match.name
        acl_gate = f"ts_client_name_{j}"
        acls.comment(f"{_where(gate.rule.origin)} Deny {name}: reverse-DNS name ends with it (no dot boundary)")
        value = client_name_value(name)
        acls.acl(acl_gate, value.acl_type, [value.value], flags=" ".join(value.flags))
        report.add(make("TS251", f"Deny {name} matches reverse-DNS names ending in {name!r}; the forward "
                        "lookup tinyproxy also does is not carried over", source=SOURCE, span=gate.rule.origin))
        if gate.admitted_before:
            before = f"ts_clients_before_{j}"
            acls.acl(before, "src", [_net_text(n) for n in gate.admitted_before])
            rules.append(f"http_access deny !{before} {acl_gate}")
        else:
            rules.append(f"http_access deny {acl_gate}")
    admitted = decision.admitted
    if admitted is None:
        return
    if not admitted:
        rules.append("http_access deny all  # no client address is admitted")
        return
    acls.acl("ts_clients", "src", [_net_text(n) for n in admitted])
    rules.append("http_access deny !ts_clients")


def _auth(acls: _Conf, rules: list[str], auth: ir.AuthPolicy, report: Report) -> None:
    acls.comment("BasicAuth: hashed users in " + PASSWD_PATH + " (see squid-auth-secret.yaml)")
    acls.add(f"auth_param basic program {NCSA_HELPER} {PASSWD_PATH}")
    acls.add("auth_param basic children 5 startup=1 idle=1")
    realm = _clean(auth.realm).strip() or "proxy"
    acls.add(f"auth_param basic realm {realm}")
    acls.add("auth_param basic credentialsttl 2 hours")
    acls.comment("tinyproxy compares user names exactly")
    acls.add("auth_param basic casesensitive on")
    acls.add("acl ts_auth proxy_auth REQUIRED")
    seen: set[str] = set()
    for user in auth.users:
        acls.comment(f"{_where(user.origin)} BasicAuth {_clean(user.user)} ***")
        if user.user in seen:
            report.add(make("TS288", f"BasicAuth user {_clean(user.user)!r} is listed again: squid keeps only "
                            "the first password", source=SOURCE, span=user.origin,
                            consequence="this password, which tinyproxy accepted, is refused (407)"))
        seen.add(user.user)
    rules.append("http_access deny !ts_auth")
    first = auth.users[0].origin if auth.users else None
    report.add(make("TS266", "wrong credentials get 407 from squid (401 from tinyproxy 1.11.1)",
                    source=SOURCE, span=first))


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


_DEST_ACL_NAMES = {acls.DSTDOMAIN: "ts_dest_domains", acls.DSTDOM_REGEX: "ts_dest_host_re",
                   acls.URL_REGEX: "ts_dest_url_re"}


def _dest_rules(acls_conf: _Conf, dest: ir.DestPolicy | None, report: Report) -> tuple[list[str], str | None]:
    """Declare the filter's ACLs; return (rules for the filter, the final allow or None).

    Allowlist: one ``deny`` of "no entry matched" (an AND of negations); blocklist: one ``deny`` per
    ACL. The allow comes separately so that hardening's ``dst`` check sits between the filter and
    it: a request the filter refuses is refused without any DNS lookup."""
    if dest is None:
        return [], "http_access allow all"
    allowlist = dest.default is ir.Action.DENY
    domains: list[tuple[str, bool]] = []
    regex: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for pat in dest.patterns:
        acls_conf.entry_comment(f"{_where(pat.origin)} {pat.source_text}")
        values = acls.dest_acl_values(pat, dest, report=report)
        report.extend(acls.dest_findings(pat, dest, values))
        for v in values:
            if v.acl_type == acls.DSTDOMAIN:
                domains.append((v.value.lstrip("."), v.value.startswith(".")))
            else:
                regex.setdefault((v.acl_type, v.flags), []).append(v.value)
    if any(acls.dot_sensitive(p) for p in dest.patterns):
        # once, on the Filter line (an entry-level verdict is the equivalence checker's to give)
        report.add(make("TS286", "squid matches the host without its trailing dot ('api.example.com.' is "
                        "decided as 'api.example.com')", source=SOURCE, span=dest.origin))
    names: list[str] = []
    domain_values = canonical_domains(domains)
    if domain_values:
        acls_conf.acl("ts_dest_domains", "dstdomain", domain_values, flags="-n")
        names.append("ts_dest_domains")
    for acl_type in (acls.DSTDOM_REGEX, acls.URL_REGEX):
        for (kind, flags), vals in sorted(regex.items()):
            if kind != acl_type:
                continue
            acls_conf.acl(_DEST_ACL_NAMES[kind], kind, vals, flags=" ".join(flags))
            if _DEST_ACL_NAMES[kind] not in names:
                names.append(_DEST_ACL_NAMES[kind])
    where = _where(dest.origin)
    if dest.subject is ir.MatchSubject.URL:
        pct_rules = _url_pct_host_rules(acls_conf) + _url_userinfo_rules(acls_conf, dest, report)
    else:
        pct_rules = []
    if allowlist:
        rules = [*pct_rules, f"# {where} filter allowlist (FilterDefaultDeny Yes): only matching destinations"]
        rules.append("http_access deny " + " ".join(f"!{n}" for n in names) if names else "http_access deny all")
        return rules, "http_access allow all" if names else None
    rules = [*pct_rules, f"# {where} filter blocklist: matching destinations are refused"]
    rules.extend(f"http_access deny {n}" for n in names)
    return rules, "http_access allow all"


def _url_pct_host_rules(acls_conf: _Conf) -> list[str]:
    """FilterURLs: refuse a host carrying a %-escape. url_regex tests the %-decoded URL, the host
    included, while dstdom_regex tests the host as sent; such a host names nothing that resolves,
    and refusing it keeps the %-decoding checks (squid/url_decoding.py) to escapes in the path."""
    name, kind, flags, value = url_decoding.PCT_HOST_ACL
    acls_conf.acl(name, kind, [value], flags=flags)
    return ["# FilterURLs: a host written with a %-escape is refused (squid would match it decoded)",
            f"http_access deny {name}"]


def _url_userinfo_rules(acls_conf: _Conf, dest: ir.DestPolicy, report: Report) -> list[str]:
    """FilterURLs: refuse a URL carrying userinfo (``http://user@host/``). tinyproxy searched the
    request-line URL with it; squid's url_regex tests the URL without it (``AnyP::Uri::absolute``),
    so neither an anchored allowlist entry's refusal nor a blocklist entry naming the user could
    be reproduced. ``urllogin`` sees the userinfo squid parsed out."""
    name, kind, flags, value = acls.URL_USERINFO_ACL
    acls_conf.acl(name, kind, [value], flags=flags)
    report.add(make("TS296", "FilterURLs: a URL with userinfo (http://user@host/) is refused; squid's url_regex "
                    "never sees the userinfo tinyproxy's filter searched", source=SOURCE,
                    span=dest.subject_origin or dest.origin,
                    consequence="requests naming a user in the URL are refused, also where tinyproxy let them "
                    "through"))
    return ["# FilterURLs: a URL with userinfo is refused (url_regex would test it without the userinfo)",
            f"http_access deny {name}"]
