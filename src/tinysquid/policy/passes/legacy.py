"""Lint holes that already exist in the legacy config (``legacy-hole`` findings, TS4xx).

The faithful translation keeps them — fixing is the user's choice (``--tighten``):

* an allowlist pattern that names a domain but is not anchored on both sides: ``slack\\.com``
  also admits ``slack.com.attacker.example`` and ``notslack.com`` (TS401). With ``tighten`` it is
  replaced by ``(^|\\.)slack\\.com$`` and an ``approximated`` finding says so (TS404);
* a hostname Allow/Deny entry without a leading dot: tinyproxy suffix-matches the client's
  unverified reverse-DNS name with no dot boundary, and ``all`` is such a name (TS403).
"""

from __future__ import annotations

import re
from dataclasses import replace

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import make
from tinysquid.policy import ir

SOURCE = "convert"
_LOOSE_SHAPE = re.compile(r"\^?(?:[A-Za-z0-9_-]|\\\.|\.)+\$?")
_DOMAIN = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+")


def loose_domain(ere: str) -> tuple[str, bool, bool] | None:
    """(domain, anchored_start, anchored_end) when ``ere`` is a literal domain with at most one
    anchor (unescaped dots read as dots), else None."""
    if not _LOOSE_SHAPE.fullmatch(ere):  # cheap filter: letters, digits, - _ . \. and anchors only
        return None
    # In that shape the ERE parses to an optional ``^``, then one literal per letter, digit, ``-``,
    # ``_`` or ``\.`` and one any-character per ``.`` (both read back as "."), then an optional
    # ``$``: the parse tree is not needed (it cost ~0.1 ms an entry; this is one pass over a str).
    start, end = ere.startswith("^"), ere.endswith("$")
    name = ere[int(start): len(ere) - int(end)].replace("\\.", ".").lower()
    if (start and end) or not _DOMAIN.fullmatch(name):
        return None
    return name, start, end


def anchored(name: str) -> str:
    """The tightened ERE: the domain and its subdomains, nothing else."""
    if _DOMAIN.fullmatch(name):  # what loose_domain returns: only the dots need escaping
        return "(^|\\.)" + name.replace(".", "\\.") + "$"
    return "(^|\\.)" + re.sub(r"([.\\[\](){}*+?|^$])", r"\\\1", name) + "$"


def lint_legacy_holes(policy: ir.Policy, report: Report, *, tighten: bool) -> ir.Policy:
    """Report legacy holes; with ``tighten`` replace loose allowlist patterns by anchored ones."""
    for rule in policy.clients.rules:
        if isinstance(rule.match, ir.ClientHostname) and not rule.match.name.startswith("."):
            name = rule.match.name
            extra = (" (`all` is not a keyword: it is the hostname \"all\")" if name == "all" else "")
            if rule.action is ir.Action.ALLOW:
                consequence = (f"admits any client whose reverse-DNS name ends in {name!r} (e.g. evil{name}; "
                               "the client controls its own PTR record) or whose address the name resolves to")
            else:
                consequence = ("a client controls its own reverse-DNS name, so it can avoid this entry unless "
                               f"its address is one {name!r} resolves to")
            report.add(make(
                "TS403", f"{rule.action.value.title()} {name}: hostname entry without a dot boundary{extra}",
                source=SOURCE, span=rule.origin, consequence=consequence))
    dest = policy.destinations
    if dest is None or dest.subject is not ir.MatchSubject.HOST or dest.default is not ir.Action.DENY:
        return policy
    out = []
    changed = False
    for p in dest.patterns:
        loose = None if p.domain is not None or p.syntax is ir.PatternSyntax.FNMATCH else loose_domain(p.regex)
        if loose is None:
            out.append(p)
            continue
        name, start, end = loose
        looks = []
        if not end:
            looks.append(f"{name}.attacker.example")
        if not start:
            looks.append(f"not{name}")
        new = anchored(name)
        report.add(make(
            "TS401", f"allowlist pattern {p.source_text!r} is not anchored: it also admits {' and '.join(looks)}",
            source=SOURCE, span=p.origin,
            consequence="the converted proxy keeps admitting these look-alike hosts, as tinyproxy did",
            hint=f"Anchor it as `{new}` in the filter file, or pass --tighten to emit that.",
            data={"tightened": new}))
        if tighten:
            report.add(make(
                "TS404", f"--tighten: {p.source_text!r} → {new}", source=SOURCE, span=p.origin,
                consequence=f"only {name} and its subdomains are admitted now, not the look-alikes"))
            p = replace(p, regex=new, case_sensitive=False,
                        domain=ir.DomainMatch(name, include_apex=True, include_subdomains=True))
            changed = True
        out.append(p)
    if not changed:
        return policy
    return replace(policy, destinations=replace(dest, patterns=tuple(out)))
