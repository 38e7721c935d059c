"""squid.conf as a value: the lines of ONE rendering and the two transformations of it.

:class:`_Conf` holds the lines ``render`` produced; a line may carry a marker (standalone file only,
chart copy only, per-entry comment) and a value may be a choice between the two forms.
:func:`_finish` turns the same Conf into the standalone squid.conf or the younsl chart's copy
(per-entry comments dropped, ``{{`` escaped for Helm ``tpl``, template expressions filled in).
Also the text helpers every part of the squid back end shares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tinysquid.diagnostics.model import Span
from tinysquid.policy import ir
from tinysquid.squid import acls, posix

PASSWD_PATH = "/etc/squid/passwd"
NCSA_HELPER = "/usr/lib/squid/basic_ncsa_auth"
DEFAULT_VISIBLE_HOSTNAME = "tinysquid-proxy"
CHART_SPOOL = "/var/spool/squid"
MAX_ACL_LINE = 2000  # squid reads lines with fgets(BUFSIZ=8192); stay far below
SOURCE = "convert"

# The Conf is rendered ONCE; both outputs are transformations of it (see _finish). A line may start
# with a marker: only in the standalone file, only in the chart copy, or a per-entry comment (kept in
# the standalone file and the report, dropped from the chart copy: its ConfigMap caps at 1 MiB).
# A value may be a choice between the two forms.
_PLAIN_ONLY = "\x00P"
_CHART_ONLY = "\x00C"
_ENTRY = "\x00E"
_MARKERS = (_PLAIN_ONLY, _CHART_ONLY, _ENTRY)
_CHOICE = re.compile("\x01([^\x02]*)\x02([^\x03]*)\x03")


def _either(plain: str, chart: str) -> str:
    """A value that is ``plain`` in the standalone squid.conf and ``chart`` in the chart's copy."""
    return f"\x01{plain}\x02{chart}\x03"


# Chart template expressions, kept out of the user-data escaping (see _finish).
_TPL_PORT = "\x00TPL_PORT\x00"
_TPL_SHUTDOWN = "\x00TPL_SHUTDOWN\x00"
_TEMPLATES = {_TPL_PORT: "{{ .Values.service.targetPort }}",
              _TPL_SHUTDOWN: "{{ .Values.squidShutdownTimeout }}"}
DEFAULT_SHUTDOWN_SECONDS = 30
# What differs between the squid versions convert targets (read from squid's source, see docs/squid-backend.md):
# 5.x/6.x serve the cache manager under cache_object:// too (the built-in `manager` ACL matches it,
# whatever the URL's host); 7.x removed that scheme. 6.x/7.x have a built-in `to_linklocal`, 5.7 does
# not (we always declare our own ACLs). Everything else convert emits parses alike on 5.7, 6.13, 7.x.
SQUID_VERSIONS = ("5", "6", "7")
CACHE_OBJECT_VERSIONS = ("5", "6")

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_IP_LITERAL_RES = (r"^[0-9]+(\.[0-9]+){3}$", r"^\[?[0-9a-f]*:[0-9a-f:.]*\]?$")


# --------------------------------------------------------------------------- text helpers


def _clean(text: str) -> str:
    """User text for a comment or a value: no control characters (no directive injection)."""
    return _CONTROL.sub("?", text)


def _where(span: Span | None) -> str:
    return f"{span.path}:{span.line}" if span is not None else "(default)"


def _ere_escape(text: str) -> str:
    """Escape ``text`` as a literal inside a POSIX ERE."""
    return acls.literal_regex(text)


def squid_token(pattern: str) -> str:
    """A regex as one squid config token with the same meaning (see :func:`acls.regex_token`)."""
    return acls.regex_token(pattern)


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


def posix_ere_error(pattern: str, *, icase: bool) -> str | None:
    """The C library's regcomp error for ``pattern`` as squid compiles it, or None."""
    return posix.ere_error(pattern, icase=icase)


# --------------------------------------------------------------------------- the writer


@dataclass
class _Conf:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def comment(self, text: str) -> None:
        self.lines.append(f"# {_clean(text)}")

    def entry_comment(self, text: str) -> None:
        """The input line an entry came from: standalone squid.conf only (never the chart copy)."""
        self.lines.append(f"{_ENTRY}# {_clean(text)}")

    def plain(self, line: str) -> None:
        self.lines.append(_PLAIN_ONLY + line)

    def chart(self, line: str) -> None:
        self.lines.append(_CHART_ONLY + line)

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


def _resolve(line: str, for_chart: bool) -> str | None:
    """One Conf line as it appears in the chosen output (None: not in it)."""
    if line[:1] == "\x00":
        marker = line[:2]
        if marker == _ENTRY:
            return None if for_chart else line[2:]
        if (marker == _CHART_ONLY) != for_chart:
            return None
        line = line[2:]
    if "\x01" in line:
        line = _CHOICE.sub(r"\2" if for_chart else r"\1", line)
    return line


def _finish(conf: _Conf, for_chart: bool) -> str:
    # No trailing blanks: they would also stop YAML from keeping the chart copy as a literal block.
    lines = [r.rstrip() for r in (_resolve(line, for_chart) for line in conf.lines) if r is not None]
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


def _net_text(net: ir.IPNetwork) -> str:
    """squid ``src``/``dst`` text of a network: a bare address for host routes, else CIDR."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _where_all(spans: Sequence[Span]) -> str:
    """``a.conf:3,4 b.conf:9`` for several spans."""
    by_path: dict[str, list[str]] = {}
    for span in spans:
        by_path.setdefault(span.path, []).append(str(span.line))
    return " ".join(f"{path}:{','.join(lines)}" for path, lines in by_path.items()) or "(default)"
