"""tinyproxy.conf text → :class:`~tinysquid.tinyproxy.nodes.Config`, exactly as one tinyproxy version
parses it (``src/conf.c: config_parse`` / ``check_match``), or an InputError naming the line.

The line reader mirrors ``fgets`` into a fixed buffer (a longer line is split and the rest counts as
a new line), the comment and blank-line rules of the version, the case-insensitive name lookup, and
the per-directive argument regexes from :mod:`grammar`. Every refusal gets a specific code where the
cause is a known pitfall (CRLF, indented or trailing comment, unquoted string, …).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, NamedTuple, NoReturn

from tinysquid.diagnostics.model import InputError, Span, make
from tinysquid.policy.ir import Secret
from tinysquid.tinyproxy.directives import BY_NAME, Directive, known
from tinysquid.tinyproxy.grammar import GRAMMARS, V1_8, V1_11, Grammar, strtoul0
from tinysquid.tinyproxy.nodes import Config, Stmt, UpstreamArgs

SOURCE = "tinyproxy"
_C_SPACE = " \t\n\r\f\v"  # C isspace() in the C locale


def fail(code: str, message: str, span: Span, **extra: Any) -> InputError:
    """An InputError carrying a TSnnn diagnostic at ``span``."""
    return InputError(make(code, message, source=SOURCE, span=span, **extra))


def decode_text(data: bytes, display: str) -> None:
    """Refuse a file that is not text at all (TS002: a NUL byte). Bytes that are not UTF-8 are
    refused later, and only where tinyproxy would use them (see :func:`check_text`): a Latin-1
    comment is fine, as it is for tinyproxy."""
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise fail("TS002", "the file is not text (it contains a NUL byte)", Span(display, line))


def check_text(text: str, display: str, line: int, col: int = 1) -> None:
    """TS002 when ``text`` (a directive or a pattern) holds bytes that are not UTF-8."""
    bad = _UNDECODED.search(text)
    if bad is not None:
        raise fail("TS002", "this line is not UTF-8 text; tinysquid cannot carry it over faithfully",
                   Span(display, line, col + bad.start()))


_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that surrogateescape could not decode


class Chunk(NamedTuple):
    """One ``fgets`` result: its text, whether it reached the newline (or the end of the file), the
    real line it came from, the 1-based column where it starts there, and tinyproxy's own line
    count (one per fgets call, so it runs ahead of the real line after a split line)."""

    text: str
    complete: bool
    line: int
    col: int
    seq: int


def fgets_lines(data: bytes, bufsize: int) -> list[Chunk]:
    """Split like repeated ``fgets(buf, bufsize)``: each chunk ends at a newline or after
    ``bufsize - 1`` bytes."""
    limit = bufsize - 1
    raw_lines = data.split(b"\n")
    if max(map(len, raw_lines)) < limit:
        return _whole_lines(data, raw_lines)
    out: list[Chunk] = []
    pos = 0
    n = len(data)
    line, col = 1, 1
    while pos < n:
        nl = data.find(b"\n", pos, pos + limit)
        if nl >= 0:
            chunk, pos, complete = data[pos:nl + 1], nl + 1, True
        else:
            chunk = data[pos:pos + limit]
            pos += len(chunk)
            complete = pos >= n
        text = chunk.decode("utf-8", "surrogateescape")  # undecodable bytes: refused where used
        out.append(Chunk(text, complete, line, col, len(out) + 1))
        if text.endswith("\n"):
            line, col = line + 1, 1
        else:
            col += len(text)
    return out


def _whole_lines(data: bytes, raw_lines: list[bytes]) -> list[Chunk]:
    """``fgets_lines`` when every line (with its newline) fits the buffer: one chunk per line,
    complete, starting at column 1. The file is decoded in one go, which gives the same text as
    decoding line by line: a newline byte never belongs to a multi-byte UTF-8 sequence, so no
    decoding error (each escaped byte by byte by surrogateescape) spans two lines."""
    texts = data.decode("utf-8", "surrogateescape").split("\n")
    assert len(texts) == len(raw_lines)
    if texts[-1] == "":  # the file ends with a newline (or is empty): no last partial line
        texts.pop()
        last = None
    else:
        last = texts.pop()
    new = tuple.__new__  # Chunk(...) without the NamedTuple's Python-level __new__
    out = [new(Chunk, (text + "\n", True, n, 1, n)) for n, text in enumerate(texts, 1)]
    if last is not None:
        n = len(out) + 1
        out.append(new(Chunk, (last, True, n, 1, n)))
    return out


def parse_config(data: bytes, *, display: str, version: str) -> Config:
    """Parse a whole config file as tinyproxy ``version`` (``"1.8"``, ``"1.10"``, ``"1.11"``)."""
    decode_text(data, display)
    g = GRAMMARS[version]
    table = known(version)
    stmts: list[Stmt] = []
    continued = False
    quiet = False  # the split line's first part is a comment or may hold a credential: echo nothing
    for c in fgets_lines(data, g.line_max):
        split = not c.complete and len(c.text.encode("utf-8", "surrogateescape")) >= g.line_max - 1
        try:
            stmt = parse_line(c.text, c.line, g=g, table=table, display=display, col0=c.col)
        except InputError as exc:
            where = {"tinyproxy_line": c.seq}  # what tinyproxy's "Syntax error on line N" says
            if split or continued:
                why = exc.diagnostic.message
                if quiet and (continued or split):
                    why = "it refuses that part (not shown: the line may hold a credential)"
                raise fail("TS115", f"line {c.line} is longer than tinyproxy {g.version}'s {g.line_max - 1}-byte "
                           f"buffer; tinyproxy reads the rest as a new line: {why}",
                           Span(display, c.line, c.col), data=where) from None
            d = exc.diagnostic
            raise InputError(make(d.code, d.message, source=SOURCE, span=d.span, data=where)) from None
        if split and not continued:
            quiet = _may_hold_secret(c.text)
        continued = split
        if stmt is not None:
            stmts.append(stmt)
    return Config(display, tuple(stmts))


def _may_hold_secret(text: str) -> bool:
    """True when a line's first part is a comment or names a directive whose value may be secret."""
    word = text.strip(_C_SPACE).split(None, 1)[:1]
    if not word or word[0].startswith("#"):
        return True
    name = word[0].lower()
    return name in ("no", "basicauth", "upstream", "addheader") or kind_may_hold_secret(text)


def parse_line(chunk: str, lineno: int, *, g: Grammar, table: dict[str, Directive], display: str, col0: int = 1) -> Stmt | None:
    """One line: None for comments and blank lines, a Stmt, or an InputError."""
    text = chunk[:-1] if chunk.endswith("\n") else chunk
    if g.indented_comments:
        if re.match(r"[ \t\n\r\f\v]*#", text) or not text.strip(_C_SPACE):
            return None
    else:
        if text.startswith("#") or not text.strip(_C_SPACE):
            return None
    check_text(text, display, lineno, col0)
    lead = len(text) - len(text.lstrip(_C_SPACE))
    m = re.match(r"[^ \t\n\r\f\v]+", text[lead:])
    assert m is not None
    name = m.group(0)
    rest = text[lead + len(name):]
    span = Span(display, lineno, col0 + lead)
    arg_col = col0 - 1 + lead + len(name) + (len(rest) - len(rest.lstrip(_C_SPACE))) + 1
    aspan = Span(display, lineno, arg_col)
    lname = name.lower()
    if lname == "no" and g.upstream_style == V1_8:  # 1.8's two-word `no upstream "site"`
        no_up = g.arg_regex(BY_NAME["no upstream"].kind).search(rest)
        if no_up is not None:
            return Stmt("No Upstream", span, (UpstreamArgs("none", None, None, no_up.group(1)),), arg_col)
    directive = table.get(lname)
    if directive is None:
        _unknown(name, rest, g, span)
    rx = g.arg_regex(directive.kind)
    m = rx.search(rest)
    if m is None:
        _explain(directive, rest, g, span, aspan)
    args = _args(directive.kind, m, g, aspan)
    if directive.name == "Port" and args[0] & 0xFFFFFFFF > 65535:
        # conf.c handle_port fails the parse right here, before any later line is read
        raise fail("TS107", f"Port {args[1]} is {args[0] & 0xFFFFFFFF}, larger than 65535"
                   + (" (a leading 0 makes it octal)" if args[1].startswith("0") else ""), aspan)
    return Stmt(directive.name, span, args, arg_col)


def _unknown(name: str, rest: str, g: Grammar, span: Span) -> NoReturn:
    lname = name.lower()
    if name.startswith("#"):
        raise fail("TS104", "comment does not start in column 0: tinyproxy 1.11 reads `#` as a directive "
                   "name and refuses the file", span)
    if lname == "no" and rest.strip().lower().startswith("upstream") and g.upstream_style == V1_8:
        raise fail("TS101", 'no upstream: the site must be one double-quoted string (`no upstream ".example.com"`)',
                   span)
    if lname == "no" and rest.strip().lower().startswith("upstream"):
        raise fail("TS114", "`no upstream` is tinyproxy 1.8 syntax; 1.10+ refuse it (write "
                   "`upstream none \"site\"`, or pass --tinyproxy-version 1.8)", span)
    if lname in BY_NAME:
        d = BY_NAME[lname]
        where = ", ".join(d.versions) if d.versions else "1.11.3 and later"
        raise fail("TS113", f"{d.name} is not a tinyproxy {g.version} directive (it exists in {where})", span)
    raise fail("TS102", f"unknown directive {name!r}: tinyproxy {g.version} refuses to start", span)


# directives whose values may hold a credential or a token: never echoed in a message
_SECRET_VALUES = {"BasicAuth", "Upstream", "AddHeader", "No Upstream"}


def _explain(directive: Directive, rest: str, g: Grammar, span: Span, aspan: Span) -> NoReturn:
    kind = directive.kind
    if directive.name in _SECRET_VALUES:
        _explain_quietly(directive, rest, g, span, aspan)
    body = rest.rstrip("\r") if g.version == V1_11 else rest
    if g.version == V1_11 and rest.endswith("\r") and g.arg_regex(kind).search(rest[:-1]):
        raise fail("TS103", f"{directive.name}: the line ends in CRLF; tinyproxy 1.11 refuses it "
                   "(convert the file to LF, or pass --tinyproxy-version 1.8)", span)
    if "#" in body:
        before = body[: body.index("#")].rstrip(" \t")
        if g.arg_regex(kind).search(before):
            raise fail("TS105", f"{directive.name}: trailing comment after the value; tinyproxy refuses "
                       "it (put the comment on its own line)", aspan)
    arg = body.strip(_C_SPACE)
    if kind in ("STR", "STR STR", "STR [STR]", "INT STR") and ((not arg.startswith('"') and kind != "INT STR")
                                                                or '""' in arg or "'" in arg or '"' not in arg):
        raise fail("TS110", f"{directive.name}: the value must be in double quotes and not empty "
                   f"(got {_show(arg)})", aspan)
    if kind == "BOOL":
        raise fail("TS111", f"{directive.name}: {_show(arg)} is not yes, on, no or off", aspan)
    if kind == "ACL" and re.fullmatch(r"[0-9.]+/[0-9]+\.[0-9.]+", arg):
        raise fail("TS112", f"{directive.name}: dotted netmask {_show(arg)}; write the prefix length "
                   "(e.g. /8)", aspan)
    if kind == "UPSTREAM" and g.version != V1_8 and GRAMMARS[V1_8].arg_regex("UPSTREAM").search(rest):
        raise fail("TS114", "`upstream host:port` is tinyproxy 1.8 syntax; 1.10+ need a type "
                   "(`upstream http host:port`), or pass --tinyproxy-version 1.8", aspan)
    if kind == "UPSTREAM" and re.fullmatch(r"(?i)none", arg):
        raise fail("TS101", "upstream none needs a site (`upstream none \"example.com\"`)", aspan)
    raise fail("TS101", f"{directive.name}: {_show(arg) if arg else 'no value'} does not match "
               f"`{directive.name} {directive.arguments}` (tinyproxy {g.version} refuses the file)", aspan)


def _explain_quietly(directive: Directive, rest: str, g: Grammar, span: Span, aspan: Span) -> NoReturn:
    """As :func:`_explain`, for values that may be secret: same checks, no value in the text."""
    kind = directive.kind
    if g.version == V1_11 and rest.endswith("\r") and g.arg_regex(kind).search(rest[:-1]):
        raise fail("TS103", f"{directive.name}: the line ends in CRLF; tinyproxy 1.11 refuses it "
                   "(convert the file to LF, or pass --tinyproxy-version 1.8)", span)
    if "#" in rest and g.arg_regex(kind).search(rest[: rest.index("#")].rstrip(" \t")):
        raise fail("TS105", f"{directive.name}: trailing comment after the value; tinyproxy refuses it",
                   aspan)
    if kind == "UPSTREAM" and g.version != V1_8 and GRAMMARS[V1_8].arg_regex("UPSTREAM").search(rest):
        raise fail("TS114", "`upstream host:port` is tinyproxy 1.8 syntax; 1.10+ need a type "
                   "(`upstream http host:port`), or pass --tinyproxy-version 1.8", aspan)
    if kind == "UPSTREAM" and re.fullmatch(r"(?i)none", rest.strip(_C_SPACE)):
        raise fail("TS101", "upstream none needs a site (`upstream none \"example.com\"`)", aspan)
    hint = {"ALNUM ALNUM": "two words of letters, digits, - . _ (tinyproxy 1.11.1)",
            "STR STR": "two double-quoted, non-empty strings"}.get(kind, f"`{directive.arguments}`")
    raise fail("TS101", f"{directive.name}: the value (not shown: it may hold a credential) does not match "
               f"{hint}; tinyproxy {g.version} refuses the file", aspan)


def _show(arg: str) -> str:
    """A value for an error message: shortened; never echo text that may hold a credential."""
    if "@" in arg or kind_may_hold_secret(arg):
        return "the value"
    return repr(arg if len(arg) <= 60 else arg[:57] + "...")


def kind_may_hold_secret(arg: str) -> bool:
    """True when ``arg`` looks like ``user:pass@host`` (never printed)."""
    return bool(re.search(r"[^\s:]*:[^\s@]*@", arg))


def _args(kind: str, m: re.Match[str], g: Grammar, aspan: Span) -> tuple[Any, ...]:
    if kind in ("STR", "ALNUM", "LOGLEVEL", "FILTERTYPE"):
        return (m.group(1),)
    if kind == "BOOL":
        v = m.group(1).lower()
        return (v[0] == "y" or v[1] == "n",)  # conf.c get_bool_arg
    if kind == "INT":
        return (strtoul0(m.group(1)), m.group(1))
    if kind == "ADDR":
        text = m.group(1)
        if ":" in text:
            _check_v6(text, g, aspan)
        return (text,)
    if kind == "ACL":
        text = m.group(1)
        if ":" in text and g.version != V1_11:
            _check_v6(text.split("/")[0], g, aspan)
        return (text,)
    if kind in ("ALNUM ALNUM",):
        return (m.group(1), Secret(m.group(2)))
    if kind == "INT STR":
        return (strtoul0(m.group(1)), m.group(2))
    if kind in ("STR STR", "STR [STR]"):
        return (m.group(1), m.group(2))
    if kind == "UPSTREAM":
        return (_upstream_args(m, g),)
    raise AssertionError(kind)


def _check_v6(text: str, g: Grammar, aspan: Span) -> None:
    # 1.8/1.10 spell out valid IPv6 forms in the regex; 1.11 accepts [0-9a-f:]{2,39} and lets
    # inet_pton decide later (Listen/Bind fail at startup, Allow/Deny drop the entry).
    if g.version == V1_11:
        return
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        raise fail("TS101", f"{text!r} is not an IPv6 address (tinyproxy {g.version} refuses the file)",
                   aspan) from None


def _upstream_args(m: re.Match[str], g: Grammar) -> UpstreamArgs:
    d = m.groupdict()
    if d.get("none") is not None:
        return UpstreamArgs(d["none"], None, None, d["nsite"])
    password = d.get("password")
    return UpstreamArgs(d.get("type") or "http", d["host"], strtoul0(d["port"]), d.get("site"), d.get("user"),
                        Secret(password) if password is not None else None)
