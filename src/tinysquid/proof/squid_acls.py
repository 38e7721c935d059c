"""The squid ACL values emitted for one destination pattern (the squid side of the proof).

SWITCH TO ``tinysquid.squid.acls.dest_acl_values`` WHEN IT LANDS: this module mirrors today's
mapping in ``squid/render.py: _dest_rules`` with exactly that function's signature, so the
integrator replaces the import and deletes this file. Keep it a faithful mirror until then.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tinysquid.policy import ir


class AclValue(NamedTuple):
    """One value of one squid ACL line: ``acl NAME <acl_type> <flags...> <value>``."""

    acl_type: str  # dstdomain | dstdom_regex | url_regex
    value: str
    flags: tuple[str, ...] = ()


def _ere_escape(text: str) -> str:
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def _squid_token(pattern: str) -> str:
    # mirror of squid/render.py: squid_token
    if pattern and pattern[0] in "\"-+#":
        pattern = f"[{pattern[0]}]{pattern[1:]}"
    return re.sub(r"\s", "[[:space:]]", pattern)


_CLASS_NAMES = re.compile(r"\[:[a-z]+:\]")


def _has_uppercase_literal(regex: str) -> bool:
    return any("A" <= c <= "Z" for c in _CLASS_NAMES.sub("", regex))


_HOST, _URL, _DENY = ir.MatchSubject.HOST, ir.MatchSubject.URL, ir.Action.DENY
_N, _NI = ("-n",), ("-n", "-i")


def dest_acl_values(pattern: ir.DestPattern, dest: ir.DestPolicy) -> tuple[AclValue, ...]:
    """The exact squid ACL values emitted for ``pattern`` (mirror of ``_dest_rules``)."""
    if pattern.domain is not None and dest.subject is _HOST:
        d = pattern.domain
        name = d.name.lower()
        if d.include_apex and d.include_subdomains:
            return (AclValue("dstdomain", "." + name.strip("."), _N),)
        if d.include_apex:
            return (AclValue("dstdomain", name, _N),)
        if d.include_subdomains:
            return (AclValue("dstdom_regex", _squid_token(r"\." + _ere_escape(name.strip(".")) + "$"),
                             _NI),)
        return ()
    token = _squid_token(pattern.regex)
    if dest.subject is _URL:
        return (AclValue("url_regex", token, () if pattern.case_sensitive else ("-i",)),)
    if pattern.case_sensitive and _has_uppercase_literal(pattern.regex):
        allowlist = dest.default is _DENY
        return (AclValue("dstdom_regex", token, _N if allowlist else _NI),)
    return (AclValue("dstdom_regex", token, _N if pattern.case_sensitive else _NI),)
