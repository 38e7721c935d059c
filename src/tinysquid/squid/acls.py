"""squid's lexical and regex rules, in one place: what each destination entry becomes in squid.conf.

Every ACL value the squid back end writes for a destination filter entry comes from
:func:`dest_acl_values` (the renderer only groups the values into ``acl`` lines). The rules below
are read from squid's own source (5.7, 6.13 and 7.x agree on all of them) and each is proven
against the real squid 5.7 in ``tests/integration/test_squid_render_live.py``.

How squid reads a value (``src/cache_cf.cc``, ``src/ConfigParser.cc``)
------------------------------------------------------------------------
* Lines are read with ``fgets(BUFSIZ=8192)``: a longer line is cut into two "lines". A line whose
  last character is ``\\`` is joined with the next non-blank, non-comment line (leading blanks of
  that line dropped, no separator). ``${process_name}``, ``${process_number}`` and ``${service_name}``
  are expanded in every line.
* Tokens are split on `` \\t\\r\\n`` only (``w_space``). A token starting with ``"`` or ``'`` names a
  file to read the values from; a token starting with ``#`` ends the line (a comment). Before the
  first value, tokens starting with ``-`` are ACL options (``-n``, ``-i``…; unknown ones are fatal);
  in a regex ACL the exact tokens ``-i`` / ``+i`` switch case sensitivity anywhere in the list.
* Regex ACL values are read with ``RecognizeQuotedPair_``: ``\\`` plus the next character always
  stay in the token (so ``\\ `` keeps a space inside it) and reach ``regcomp`` unchanged; a ``\\`` at
  the end of the line is fatal.

How squid compiles a regex ACL (``src/acl/RegexData.cc``)
---------------------------------------------------------
* ``removeUnnecessaryWildcards``: a leading ``^.*`` is dropped, then every leading ``.*`` pair
  (``.*?x`` would become ``?x``). The value ``.*`` itself is kept. Nothing is stripped at the end.
* All values of one ``acl`` line (up to ~1 KiB of them) are joined into ``(v1)|(v2)|…`` and
  compiled with ``regcomp(REG_EXTENDED | REG_NOSUB [| REG_ICASE])``: a back-reference ``\\N`` then
  names another value's group, and an unmatched ``)`` (a literal on its own) closes the wrapper.
* If the joined expression fails, each value is compiled alone; one that fails is skipped with an
  ERROR line (5.7) and squid runs without it.

What each ``acl_type`` tests
----------------------------
* ``dstdomain`` (``src/acl/DomainData.cc``): the request's host, lower-cased, any trailing dots
  removed by the URL parser; a value ``.x`` matches ``x`` and every ``*.x``; ``-n`` = never the
  reverse-DNS name of an IP-literal host.
* ``dstdom_regex``: a regex search (as above) in the same host string. An IP-literal host is
  canonicalised first: ``2130706433``, ``0x7f.0.0.1``, ``127.1`` and ``[::ffff:127.0.0.1]`` are all
  ``127.0.0.1``; an IPv6 host is written compressed, lower-case and in brackets, ``[::1]``.
* ``url_regex`` (``src/acl/UrlRegex.cc``): a regex search in the normalised absolute URL (scheme and
  host lower-cased, default port dropped, trailing host dots removed, an http URL's userinfo
  left out), %XX-decoded (``rfc1738_unescape``) first; for CONNECT it is ``host:port``.

tinyproxy instead searches the host (or URL) exactly as the client wrote it, so lower-casing, the
trailing dot and IP canonicalisation are differences no value can undo: they are reported
(:func:`dest_findings`), never called exact.

So that ``proof`` and the renderer can reason about exactly what squid compiles, every regex value
returned here is a fixed point of squid's rewriting: :func:`squid_compiled` (the string squid hands
to ``regcomp`` for a value) returns it unchanged, and it compiles on its own and inside the
``(a)|(b)`` join with the same meaning.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tinysquid.diagnostics import InputError, Report
from tinysquid.diagnostics.model import Diagnostic, make
from tinysquid.policy import automata as fa
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.squid import host_spelling, posix, url_decoding, url_spelling

SOURCE = "convert"
MAX_VALUE = 1000  # squid skips a regex over BUFSIZ-1; our lines stay < 2000 characters

DSTDOMAIN, DSTDOM_REGEX, URL_REGEX = "dstdomain", "dstdom_regex", "url_regex"

# url_regex never sees an http URL's userinfo (AnyP::Uri::absolute() writes it for ftp only), while
# tinyproxy's FilterURLs searches the request-line URL with it: a URL-mode filter refuses it.
URL_USERINFO_ACL = ("ts_url_userinfo", "urllogin", "", ".")


@dataclass(frozen=True, slots=True)
class AclValue:
    """One value of one squid ACL: ``acl NAME {acl_type} {flags…} {value}``.

    ``value`` is the token exactly as written in squid.conf; ``flags`` the ACL options written
    before the values of its line (``-n``: no reverse DNS; ``-i``: case-insensitive regex).
    """

    acl_type: str
    value: str
    flags: tuple[str, ...] = ()


class Unrepresentable(ValueError):
    """A regex that no squid.conf token can carry with the same meaning (the message says why)."""


# --------------------------------------------------------------------------- the ERE lexer

_MACROS = ("${process_name}", "${process_number}", "${service_name}")


def _bracket_end(ere: str, i: int) -> int:
    """Index just past the bracket expression starting at ``ere[i] == '['`` (POSIX rules)."""
    j = i + 1
    if j < len(ere) and ere[j] == "^":
        j += 1
    if j < len(ere) and ere[j] == "]":
        j += 1
    while j < len(ere):
        c = ere[j]
        if c == "[" and j + 1 < len(ere) and ere[j + 1] in ":=.":
            close = ere.find(ere[j + 1] + "]", j + 2)
            if close < 0:
                raise Unrepresentable("unterminated [: :] / [= =] / [. .] in a bracket expression")
            j = close + 2
            continue
        if c == "]":
            return j + 1
        j += 1
    raise Unrepresentable("unterminated bracket expression")


def tokens(ere: str) -> list[tuple[str, str]]:
    """Split a (compiling) ERE into lexical units: ``esc`` (``\\x``), ``bracket``, ``open``,
    ``close``, ``char`` (anything else, anchors and operators included)."""
    return list(_tokens(ere))


@functools.lru_cache(maxsize=16)  # one entry is tokenised by several checks in a row
def _tokens(ere: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(ere):
        c = ere[i]
        if c == "\\" and i + 1 < len(ere):
            out.append(("esc", ere[i:i + 2]))
            i += 2
        elif c == "[":
            end = _bracket_end(ere, i)
            out.append(("bracket", ere[i:end]))
            i = end
        elif c == "(":
            out.append(("open", c))
            i += 1
        elif c == ")":
            out.append(("close", c))
            i += 1
        else:
            out.append(("char", c))
            i += 1
    return tuple(out)


def _unsafe_char(c: str) -> str | None:
    """Why ``c`` may not appear in squid.conf / values.yaml, or None."""
    o = ord(c)
    if c == "\t":
        return None
    if o < 0x20 or o == 0x7F:
        return f"the control character U+{o:04X} would end or corrupt the squid.conf line"
    if 0x80 <= o <= 0x9F or c in "\u2028\u2029\ufeff":
        return (f"U+{o:04X} is a line break or control character for YAML/Go: it would break every "
                "Helm render of values.yaml")
    if 0xD800 <= o <= 0xDFFF:
        return "the pattern holds bytes that are not UTF-8; values.yaml must be UTF-8"
    if o in (0xFFFE, 0xFFFF):
        return f"U+{o:04X} is not a character"
    return None


_ANY_BYTE_BUT_PRINTABLE = "[^!-~]"  # squid and tinyproxy run regcomp in the C locale: one byte


def _byte_len(c: str) -> int:
    return 1 if 0xD800 <= ord(c) <= 0xDFFF else len(c.encode("utf-8"))


_PLAIN = re.compile(r"[!%&*+,./0-9:;<=>?@A-Z\\^_`a-z|}{~$()-]+")
_BACKREF = re.compile(r"\\[1-9]")


def _plain(ere: str) -> bool:
    """A fast path: printable ASCII, no bracket expression, nothing any rule below rewrites."""
    if not _PLAIN.fullmatch(ere) or ere[0] in "-+" or ere.startswith((".*", "^.*")) or "${" in ere:
        return False
    if ere.endswith("\\") or _BACKREF.search(ere):
        return False
    depth, i = 0, 0
    while i < len(ere):
        c = ere[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return False
            depth -= 1
        i += 1
    return len(ere) <= MAX_VALUE


def regex_token(ere: str, *, widened: list[str] | None = None) -> str:
    """``ere`` as one squid.conf regex token that squid compiles to the same matcher.

    Rewrites (each keeps the meaning under glibc's ERE rules, verified with the real squid):
    a space or tab outside brackets → ``\\ `` / ``\\<tab>`` (squid keeps a ``\\``-pair in the token,
    glibc reads it as the literal); a trailing space → ``\\ {1}`` (squid trims trailing blanks);
    an unmatched ``)`` → ``\\)`` (it would close squid's ``(…)|(…)`` wrapper); a leading ``^.*`` /
    ``.*`` → ``^.{0,}`` / ``.{0,}`` (squid would strip them, turning ``.*?x`` into ``?x``); a first
    character ``"`` ``'`` ``#`` ``-`` ``+`` → a one-character bracket (file name, comment, option,
    ``-i``/``+i``); a final ``\\\\`` → ``[\\]`` (a line ending in ``\\`` joins the next one).

    ``widened``: given (a blocklist), a character squid.conf/YAML cannot carry outside a bracket
    becomes ``[^!-~]`` per byte (any byte but printable ASCII: both proxies match bytes in the C
    locale), so the value matches a superset; each such character is appended to the list.

    Raises:
        Unrepresentable: back-references (squid's join renumbers groups), whitespace inside a
            bracket, characters squid.conf or YAML cannot carry, squid macros, over-long values.
    """
    if _plain(ere):
        return ere
    parts: list[str] = []
    depth = 0
    toks = tokens(ere)
    for kind, text in toks:
        if kind == "esc":
            if text[1] in "123456789":
                raise Unrepresentable("a back-reference: squid joins the values of one ACL into "
                                      "(a)|(b), so \\N would name another value's group")
            bad = _unsafe_char(text[1])
            if bad and widened is not None:
                widened.append(text[1])
                parts.append(_ANY_BYTE_BUT_PRINTABLE * _byte_len(text[1]))
                continue
            if bad:
                raise Unrepresentable(bad)
            parts.append(text)
        elif kind == "bracket":
            if " " in text or "\t" in text:
                raise Unrepresentable("whitespace inside a bracket expression has no squid.conf spelling")
            for c in text:
                bad = _unsafe_char(c)
                if bad:
                    raise Unrepresentable(bad)
            parts.append(text)
        elif kind == "open":
            depth += 1
            parts.append(text)
        elif kind == "close":
            if depth == 0:
                parts.append("\\)")
            else:
                depth -= 1
                parts.append(text)
        else:
            bad = _unsafe_char(text)
            if bad and widened is not None:
                widened.append(text)
                parts.append(_ANY_BYTE_BUT_PRINTABLE * _byte_len(text))
                continue
            if bad:
                raise Unrepresentable(bad)
            parts.append("\\" + text if text in " \t" else text)
    if parts and parts[-1] in ("\\ ", "\\\t"):
        parts.append("{1}")
    if parts and parts[-1] == "\\\\":
        parts[-1] = "[\\]"
    token = "".join(parts)
    if token.startswith("^.*"):
        token = "^.{0,}" + token[3:]
    elif token.startswith(".*") and token != ".*":
        token = ".{0,}" + token[2:]
    if token and token[0] in "\"'#-+":
        token = f"[{token[0]}]{token[1:]}"
    if "${" in token and any(m in token for m in _MACROS):
        raise Unrepresentable("squid expands ${process_name}/${process_number}/${service_name} in every line")
    if len(token) > MAX_VALUE:
        raise Unrepresentable(f"longer than {MAX_VALUE} characters once written for squid")
    error = posix.ere_error(token, icase=False)
    if error is not None:  # a rewrite squid would not compile: never emit it
        raise Unrepresentable(f"its squid.conf spelling {token!r} does not compile ({error})")
    return token


_DOMAIN_VALUE = re.compile(r"[a-z0-9_][a-z0-9_.-]*")


def host_equals_value(name: str, *, subdomains: bool = False) -> AclValue:
    """A value matching the host ``name`` (and, with ``subdomains``, every ``*.name``), case-
    insensitively: ``dstdomain -n`` when the name is a plain DNS name, else an anchored
    ``dstdom_regex -n -i`` (a dstdomain token starting with a quote would name a file, with ``-``
    an option, with ``#`` a comment).

    Raises:
        Unrepresentable: as :func:`regex_token`.
    """
    name = name.lower().strip(".")
    if _DOMAIN_VALUE.fullmatch(name):
        return AclValue(DSTDOMAIN, ("." if subdomains else "") + name, ("-n",))
    prefix = "(^|\\.)" if subdomains else "^"
    return AclValue(DSTDOM_REGEX, regex_token(prefix + _escape(name) + "$"), ("-n", "-i"))


def client_name_value(name: str) -> AclValue:
    """The ``srcdom_regex`` value of a hostname Deny entry: the client's reverse-DNS name ends with
    ``name`` (case-insensitive, no dot boundary, as tinyproxy compares it).

    Raises:
        Unrepresentable: as :func:`regex_token`.
    """
    return AclValue("srcdom_regex", regex_token(_escape(name.lower()) + "$"), ("-i",))


def squid_compiled(token: str) -> str:
    """The string squid passes to regcomp for the regex token ``token`` (removeUnnecessaryWildcards)."""
    if token == ".*":
        return token
    t = token.removeprefix("^.*")
    while t.startswith(".*"):
        t = t[2:]
    return t or ".*"


def _escape(text: str) -> str:
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def literal_regex(text: str) -> str:
    """An ERE matching ``text`` literally."""
    return _escape(text)


# --------------------------------------------------------------------------- destination entries


def _v6_variant(ere: str) -> str | None:
    """``ere`` with ``^`` → ``^\\[`` and ``$`` → ``\\]$``: searched in squid's ``[addr]`` host it
    matches wherever ``ere`` matched ``addr`` (and possibly more). None if ``ere`` has no anchor."""
    if "^" not in ere and "$" not in ere:  # no anchor token without the character (the common case)
        return None
    out, anchored = [], False
    for kind, text in tokens(ere):
        if kind == "char" and text == "^":
            out.append("^\\[")
            anchored = True
        elif kind == "char" and text == "$":
            out.append("\\]$")
            anchored = True
        else:
            out.append(text)
    return "".join(out) if anchored else None


# (what tinyproxy searches, what squid searches) for IP-literal hosts (verified live, see the tests)
IP_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0x7f.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("::ffff:127.0.0.1", "127.0.0.1"),
    ("10.0.0.1", "10.0.0.1"), ("169.254.169.254", "169.254.169.254"),
    ("::1", "[::1]"), ("0:0::1", "[::1]"), ("::", "[::]"), ("fe80::1", "[fe80::1]"),
    ("2001:DB8::1", "[2001:db8::1]"), ("fd00:ec2::254", "[fd00:ec2::254]"),
)
_V6_SAMPLES = tuple(raw for raw, seen in IP_SPELLINGS if seen.startswith("["))
_RAW = tuple(raw for raw, _ in IP_SPELLINGS)
_SEEN = tuple(seen for _, seen in IP_SPELLINGS)

_CASE_CLASS = re.compile(r"\[:(upper|lower):\]")
_CLASS_NAMES = re.compile(r"\[:[a-z]+:\]")


def _has_letters(ere: str) -> bool:
    """Whether case can matter: a letter outside class names, or an upper/lower class."""
    return bool(_CASE_CLASS.search(ere)) or bool(re.search(r"[A-Za-z]", _CLASS_NAMES.sub("", ere)))


def has_uppercase_literal(regex: str) -> bool:
    """Whether an ERE contains an upper-case letter that must match literally, or ``[:upper:]``."""
    return "[:upper:]" in regex or any("A" <= c <= "Z" for c in _CLASS_NAMES.sub("", regex))


def _host_regex_values(pat: ir.DestPattern, dest: ir.DestPolicy, widened: list[str] | None) -> tuple[AclValue, ...]:
    blocklist = dest.default is ir.Action.ALLOW
    # squid lower-cases the host: a case-sensitive pattern is emitted case-insensitively in a
    # blocklist (it then blocks every spelling: never fewer hosts than tinyproxy blocked).
    icase = not pat.case_sensitive or blocklist
    flags = ("-n", "-i") if icase else ("-n",)
    values = [AclValue(DSTDOM_REGEX, regex_token(pat.regex, widened=widened), flags)]
    v6 = _v6_variant(pat.regex)
    if v6 is not None:
        c = posix.compiled(pat.regex, icase=not pat.case_sensitive)
        if c is not None and any(c.search_all(_V6_SAMPLES)):
            values.append(AclValue(DSTDOM_REGEX, regex_token(v6, widened=widened), flags))
    if blocklist:
        values.extend(ip_literal_guard(pat, tuple(values)))
        dotted = trailing_dot_value(pat)
        if dotted is not None:
            values.append(AclValue(DSTDOM_REGEX, regex_token(dotted, widened=widened), flags))
    return tuple(values)


def trailing_dot_value(pat: ir.DestPattern) -> str | None:
    """The extra regex a blocklist host entry needs because squid strips trailing dots: it blocks
    each host whose dotted spelling (``h.``, ``h..``…) tinyproxy blocked (:mod:`host_spelling`);
    None when no match of the entry reaches into a trailing dot.

    Raises:
        Unrepresentable: a back-reference.
    """
    if not dot_sensitive(pat) or _ends_in_a_letter(pat.regex):
        return None
    try:
        return host_spelling.dot_quotient(pat.regex)
    except (host_spelling.Undecided, rx.RegexError) as why:
        raise Unrepresentable(f"{why}: squid strips trailing dots, and the entry's dotted spellings "
                              "cannot be derived") from None


_LAST_PLAIN = re.compile(r"(?:^|[^\\])(?:\\\\)*[A-Za-z0-9_-]\Z")


def _ends_in_a_letter(ere: str) -> bool:
    """A fast "no quotient": no group or alternation, and the last atom is an unrepeated letter,
    digit, ``-`` or ``_`` (it can match no dot, and no end anchor follows it)."""
    return "(" not in ere and "|" not in ere and _LAST_PLAIN.search(ere) is not None


def _ip_spelling_decisions(pat: ir.DestPattern, values: tuple[AclValue, ...]) -> tuple[list[bool], list[bool]] | None:
    """For each of :data:`IP_SPELLINGS`: whether tinyproxy's pattern matches the raw spelling, and
    whether any of squid's ``values`` matches what squid tests instead; None if it does not compile."""
    tp = posix.compiled(pat.regex, icase=not pat.case_sensitive)
    if tp is None:
        return None
    new = [False] * len(_SEEN)
    for c in _squid_matchers(values):
        new = [a or b for a, b in zip(new, c.search_all(_SEEN), strict=True)]
    return list(tp.search_all(_RAW)), new


# Every IP-literal host as squid holds it (canonical dotted quad; IPv6 compressed in brackets).
IPV4_GUARD = AclValue(DSTDOM_REGEX, r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$", ("-n",))
IPV6_GUARD = AclValue(DSTDOM_REGEX, r"^\[", ("-n",))


def ip_literal_guard(pat: ir.DestPattern, values: tuple[AclValue, ...]) -> tuple[AclValue, ...]:
    """Fail closed for a blocklist entry that blocks an IP-literal spelling squid never sees.

    squid rewrites ``2130706433``, ``0x7f.0.0.1``, ``127.1`` and ``::ffff:127.0.0.1`` to the
    canonical address before any ACL, so no value can single out the spelling tinyproxy blocked.
    When the entry blocks one of the sample spellings in :data:`IP_SPELLINGS` and its squid values
    miss the canonical form, the entry also blocks every IP-literal host of that family (TS294):
    more than tinyproxy blocked, never less."""
    decided = _ip_spelling_decisions(pat, values)
    if decided is None:
        return ()
    old, new = decided
    missed = {seen for seen, a, b in zip(_SEEN, old, new, strict=True) if a and not b}
    out: list[AclValue] = []
    if any(not m.startswith("[") for m in missed):
        out.append(IPV4_GUARD)
    if any(m.startswith("[") for m in missed):
        out.append(IPV6_GUARD)
    return tuple(out)


def dest_acl_values(pattern: ir.DestPattern, dest: ir.DestPolicy, *,
                    report: Report | None = None) -> tuple[AclValue, ...]:
    """What is emitted for this one filter entry; ``()`` = not emitted (fail closed).

    A host pattern proven to be a domain (``pattern.domain``) becomes ``dstdomain -n`` (``x`` or
    ``.x``), or ``dstdom_regex -n -i \\.x$`` for "subdomains only"; any other host pattern a
    ``dstdom_regex -n [-i]`` value (a case-sensitive blocklist pattern gets ``-i``), plus, when it
    is anchored and matches an IPv6 address, the same pattern re-anchored inside squid's brackets
    (``^\\[…\\]$``); a URL pattern a ``url_regex [-i]`` value.

    An allowlist entry no token can carry is not emitted (it admits nothing: narrower, reported
    as TS281 into ``report``). A blocklist entry cannot be dropped without letting its hosts
    through, so that is an error.

    Raises:
        InputError: TS280 (squid would not compile the pattern), TS282 (a blocklist entry that
            squid.conf cannot carry).
    """
    if _MEMO.dest is not dest:
        _MEMO.dest, _MEMO.values = dest, {}
    elif report is None:
        hit = _MEMO.values.get(id(pattern))
        if hit is not None and hit[0] is pattern:
            return hit[1]
    values = _dest_acl_values(pattern, dest, report)
    _MEMO.values[id(pattern)] = (pattern, values)
    return values


# The values of the last DestPolicy's entries, by entry (held, so an id is not reused): convert
# computes each entry's values for squid.conf and again for its proof (a pure function of the
# entry and the policy; only the findings go to ``report``, so a call with a report is never
# served from here). One policy at a time: a new one replaces the table.
class _Memo:
    __slots__ = ("dest", "values")

    def __init__(self) -> None:
        self.dest: ir.DestPolicy | None = None
        self.values: dict[int, tuple[ir.DestPattern, tuple[AclValue, ...]]] = {}


_MEMO = _Memo()


def _dest_acl_values(pattern: ir.DestPattern, dest: ir.DestPolicy, report: Report | None) -> tuple[AclValue, ...]:
    d = pattern.domain
    if d is not None and dest.subject is ir.MatchSubject.HOST:
        name = d.name.lower().strip(".")
        domain: tuple[AclValue, ...] = ()
        if d.include_apex and d.include_subdomains:
            domain = (AclValue(DSTDOMAIN, "." + name, ("-n",)),)
        elif d.include_apex:
            domain = (AclValue(DSTDOMAIN, name, ("-n",)),)
        elif d.include_subdomains:
            domain = (AclValue(DSTDOM_REGEX, regex_token(r"\." + _escape(name) + "$"), ("-n", "-i")),)
        if domain:
            if dest.default is ir.Action.ALLOW and _IPISH.fullmatch(name):
                domain += ip_literal_guard(pattern, domain)
            return domain
    error = posix.ere_error(pattern.regex, icase=not pattern.case_sensitive)
    if error is not None:
        raise InputError(make("TS280", f"pattern {pattern.source_text!r} does not compile as a POSIX extended "
                              f"regex ({error}): squid would skip it", source=SOURCE, span=pattern.origin))
    widened: list[str] | None = [] if dest.default is ir.Action.ALLOW else None
    try:
        if dest.subject is ir.MatchSubject.URL:
            flags = () if pattern.case_sensitive else ("-i",)
            values: tuple[AclValue, ...] = (AclValue(URL_REGEX, regex_token(pattern.regex, widened=widened), flags),)
            values = _url_decoding_values(pattern, dest, values, report)
        else:
            values = _host_regex_values(pattern, dest, widened)
        if widened and report is not None:
            shown = ", ".join(sorted({f"U+{ord(c):04X}" for c in widened}))
            report.add(make("TS283", f"blocklist pattern {pattern.source_text!r}: {shown} cannot be written in "
                            "squid.conf/values.yaml; any non-ASCII byte is blocked in its place", source=SOURCE,
                            span=pattern.origin, consequence="the entry blocks more hosts than in tinyproxy"))
        return values
    except Unrepresentable as why:
        if dest.default is ir.Action.ALLOW:
            raise InputError(make("TS282", f"blocklist pattern {pattern.source_text!r} cannot be written for "
                                  f"squid: {why}", source=SOURCE, span=pattern.origin)) from None
        if report is not None:
            report.add(make("TS281", f"allowlist pattern {pattern.source_text!r} is not carried over: {why}",
                            source=SOURCE, span=pattern.origin,
                            consequence="hosts only this entry admitted are refused"))
        return ()


def _url_tinyproxy_tree(pattern: ir.DestPattern) -> rx.Node:
    if pattern.syntax is ir.PatternSyntax.FNMATCH:
        return rx.parse_fnmatch(pattern.source_text)
    if pattern.syntax is ir.PatternSyntax.ERE:
        return rx.parse_ere(pattern.source_text)
    return rx.parse_bre(pattern.source_text)


def _url_decoding_values(pattern: ir.DestPattern, dest: ir.DestPolicy, values: tuple[AclValue, ...],
                         report: Report | None) -> tuple[AclValue, ...]:
    """The url_regex values of one FilterURLs entry, checked against squid's %-decoding
    (:mod:`tinysquid.squid.url_decoding`): an allowlist entry a decoded spelling could pass is
    dropped (TS276); a blocklist entry is widened until it refuses every decoded spelling (TS278),
    or the conversion stops (TS277)."""
    tp_icase = not pattern.case_sensitive
    allowlist = dest.default is ir.Action.DENY

    def squid_side(vals: tuple[AclValue, ...]) -> list[tuple[str, bool]]:
        return [(squid_compiled(v.value), "-i" in v.flags) for v in vals]

    try:
        tree = _url_tinyproxy_tree(pattern)
        if allowlist:
            witness = url_decoding.allow_witness(tree, tp_icase, squid_side(values))
            if witness is None:
                return values
            if report is not None:
                report.add(make("TS276", f"allowlist URL pattern {pattern.source_text!r} is not carried over: squid "
                                f"tests the %-decoded URL, so e.g. {witness!r} would pass where tinyproxy refused "
                                "it", source=SOURCE, span=pattern.origin,
                                consequence="requests only this entry admitted are refused",
                                data={"witness": witness}))
            return ()
        witness = url_decoding.block_witness(tree, tp_icase, squid_side(values))
        if witness is None:
            return _url_spelling_values(pattern, tree, values, report)
        extra = tuple(AclValue(URL_REGEX, regex_token(e), values[0].flags)
                      for e in url_decoding.widened_for_decoding(pattern.regex))
        if extra:
            wider = values + extra
            again = url_decoding.block_witness(tree, tp_icase, squid_side(wider))
            if again is None:
                if report is not None:
                    report.add(make("TS278", f"blocklist URL pattern {pattern.source_text!r} also refuses its "
                                    "%-decoded spellings: " + ", ".join(v.value for v in extra), source=SOURCE,
                                    span=pattern.origin, consequence="the entry blocks more requests than in "
                                    "tinyproxy"))
                return _url_spelling_values(pattern, tree, wider, report)
            witness = again
    except (fa.Unsupported, rx.RegexError, RecursionError, Unrepresentable) as exc:
        why = f"the %-decoding check cannot decide it ({exc})"
        if allowlist:
            if report is not None:
                report.add(make("TS276", f"allowlist URL pattern {pattern.source_text!r} is not carried over: {why}",
                                source=SOURCE, span=pattern.origin,
                                consequence="requests only this entry admitted are refused"))
            return ()
        raise InputError(make("TS277", f"blocklist URL pattern {pattern.source_text!r}: {why}", source=SOURCE,
                              span=pattern.origin)) from None
    raise InputError(make("TS277", f"blocklist URL pattern {pattern.source_text!r} cannot refuse every request "
                          f"tinyproxy refused: squid tests the %-decoded URL, so e.g. {witness!r} would pass",
                          source=SOURCE, span=pattern.origin))


def _url_spelling_values(pattern: ir.DestPattern, tree: rx.Node, values: tuple[AclValue, ...],
                         report: Report | None) -> tuple[AclValue, ...]:
    """A blocklist FilterURLs entry's values, widened until they block every request spelling the
    entry blocked as sent, now that squid tests the normalised URL (:mod:`.url_spelling`): a host's
    trailing dot, ``:80`` and a missing path are gone there (TS291); when no widening holds, the
    conversion stops (TS253)."""
    tp_icase = not pattern.case_sensitive

    def side(vals: tuple[AclValue, ...]) -> list[tuple[str, bool]]:
        return [(squid_compiled(v.value), "-i" in v.flags) for v in vals]

    try:
        found = url_spelling.block_witness(tree, tp_icase, side(values))
        if found is None:
            return values
        extra: tuple[AclValue, ...] = ()
        wider_text = url_spelling.widened_for_spelling(pattern.regex)
        if wider_text is not None:
            extra = (AclValue(URL_REGEX, regex_token(wider_text), values[0].flags),)
            again = url_spelling.block_witness(tree, tp_icase, side(values + extra))
        else:
            again = found
        if again is not None and "-i" not in values[0].flags:  # squid lower-cases the host
            extra = tuple(AclValue(v.acl_type, v.value, ("-i",)) for v in extra or values[:1])
            again = url_spelling.block_witness(tree, tp_icase, side(values + extra))
    except (fa.Unsupported, fa.BudgetExceeded, rx.RegexError, RecursionError, Unrepresentable) as exc:
        raise InputError(make("TS253", f"blocklist URL pattern {pattern.source_text!r}: the check of the URL "
                              f"spellings squid normalises cannot decide it ({exc})", source=SOURCE,
                              span=pattern.origin)) from None
    if again is not None:
        raise InputError(make("TS253", f"blocklist URL pattern {pattern.source_text!r} cannot block every request "
                              f"tinyproxy blocked: squid tests the normalised URL, so e.g. {found.text!r} (tested as "
                              f"{found.seen!r}) would pass", source=SOURCE, span=pattern.origin))
    if report is not None:
        report.add(make("TS291", f"blocklist URL pattern {pattern.source_text!r} also blocks the URLs squid makes of "
                        f"what it blocked, e.g. {found.text!r} (tested as {found.seen!r}): "
                        + ", ".join(v.value for v in extra), source=SOURCE, span=pattern.origin,
                        consequence="the entry blocks more requests than in tinyproxy",
                        data={"witness": found.text}))
    return values + extra


def as_host_regex(value: AclValue) -> tuple[str, bool] | None:
    """The ERE (and its case-insensitivity) squid effectively searches the host with for a
    dstdomain / dstdom_regex value; None for other ACL types."""
    if value.acl_type == DSTDOM_REGEX:
        return squid_compiled(value.value), "-i" in value.flags
    if value.acl_type == DSTDOMAIN:
        name = value.value
        if name.startswith("."):
            return "(^|\\.)" + _escape(name[1:]) + "$", True
        return "^" + _escape(name) + "$", True
    return None


def _squid_matchers(values: tuple[AclValue, ...]) -> list[posix.Compiled]:
    out = []
    for v in values:
        rx = as_host_regex(v)
        if rx is not None:
            c = posix.compiled(rx[0], icase=rx[1])
            if c is not None:
                out.append(c)
    return out


_IPISH = re.compile(r"[0-9a-fx.:]+")


_TS286 = "a host written with a trailing dot is decided as the host without it (squid strips the dot)"
_END_ANCHORS = frozenset("'>bB")  # GNU \' \> \b \B: may hold at the end of the host, or before a dot


def dot_sensitive(pattern: ir.DestPattern) -> bool:
    """Whether the entry can decide ``host.`` (what tinyproxy tested) differently from ``host``
    (what squid tests): only through an end anchor or an atom that can match the final dot. A sound
    over-approximation (any bracket expression counts); a domain match always is (``…name$``)."""
    if pattern.domain is not None or "." in pattern.regex:  # a "." is a char, an escape or in a bracket
        return True
    for kind, text in tokens(pattern.regex):
        if kind == "bracket" or (kind == "char" and text in ".$") or (
                kind == "esc" and (text[1] in _END_ANCHORS or text[1] in ".WS")):
            return True
    return False


def _trailing_dot_finding(pattern: ir.DestPattern, dest: ir.DestPolicy, values: tuple[AclValue, ...]) -> Diagnostic:
    span, text = pattern.origin, pattern.source_text
    blocklist = dest.default is ir.Action.ALLOW
    dotted = trailing_dot_value(pattern) if blocklist and pattern.domain is None else None
    if dotted is not None:
        flags = next((v.flags for v in values if v.acl_type == DSTDOM_REGEX), ("-n", "-i"))
        token = regex_token(dotted, widened=[])
        if AclValue(DSTDOM_REGEX, token, flags) in values:
            every = dotted == "$" or bool((c := posix.compiled(dotted, icase=True)) and c.search(""))
            scope = "every host" if every else f"each host whose dotted spelling it blocked ({token})"
            return make("TS295", f"blocklist host pattern {text!r} blocks trailing-dot hosts, which squid sees "
                        f"without the dot: the entry now also blocks {scope}", source=SOURCE, span=span,
                        consequence="the entry blocks more hosts than in tinyproxy", data={"value": token})
    return make("TS293", f"host pattern {text!r} can decide a trailing-dot host differently: " + _TS286,
                source=SOURCE, span=span)


def dest_findings(pattern: ir.DestPattern, dest: ir.DestPolicy, values: tuple[AclValue, ...]) -> list[Diagnostic]:
    """Why squid's decision for this entry can differ from tinyproxy's (never ``exact`` then).

    Case (squid lower-cases hosts), IP literals (squid canonicalises them: checked with the C
    library's regexec on the spellings in :data:`IP_SPELLINGS`), URL normalisation."""
    out: list[Diagnostic] = []
    span, text = pattern.origin, pattern.source_text
    allowlist = dest.default is ir.Action.DENY
    if not values:
        return out
    if dest.subject is ir.MatchSubject.HOST and dot_sensitive(pattern):
        out.append(_trailing_dot_finding(pattern, dest, values))
    if dest.subject is ir.MatchSubject.URL:
        out.append(make("TS255", f"URL pattern {text!r} is matched against squid's normalised URL",
                        source=SOURCE, span=span))
        return out
    if pattern.domain is not None and not _IPISH.fullmatch(pattern.domain.name):
        return out  # a name with another letter never equals or ends an IP-address host
    if pattern.case_sensitive and _has_letters(pattern.regex):
        if allowlist and has_uppercase_literal(pattern.regex):
            out.append(make("TS256", f"case-sensitive host pattern {text!r} has upper-case letters",
                            source=SOURCE, span=span, consequence="hosts written in that case are now refused"))
        elif allowlist:
            out.append(make("TS257", f"case-sensitive host pattern {text!r} also admits the host "
                            "spelled in another case (squid lower-cases hosts)", source=SOURCE, span=span))
        else:
            out.append(make("TS287", f"case-sensitive blocklist pattern {text!r} now blocks the host in "
                            "every spelling of its case (squid lower-cases hosts)", source=SOURCE, span=span))
    decided = _ip_spelling_decisions(pattern, values)
    if decided is not None:
        old, new = decided
        differ = [raw for raw, a, b in zip(_RAW, old, new, strict=True) if a != b]
        guards = [v for v in values if v in (IPV4_GUARD, IPV6_GUARD)]
        if guards:
            family = " and ".join("IPv4" if v == IPV4_GUARD else "IPv6" for v in guards)
            out.append(make("TS294", f"blocklist pattern {text!r} blocks an IP-address spelling squid rewrites "
                            f"before matching: the entry now blocks every {family}-literal host",
                            source=SOURCE, span=span,
                            consequence=f"requests to any {family} address written as a literal are refused"))
        if differ:
            out.append(make("TS284", f"host pattern {text!r} decides IP-address hosts differently: squid "
                            f"tests the canonical address (e.g. {differ[0]!r} is tested as "
                            f"{dict(IP_SPELLINGS)[differ[0]]!r})", source=SOURCE, span=span,
                            data={"spellings": differ}))
    return out
