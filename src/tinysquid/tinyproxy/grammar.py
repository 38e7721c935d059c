"""The tinyproxy config grammar of each supported version, as data.

Sources: ``src/conf.c`` at tags 1.8.4, 1.10.0 and 1.11.1 (the token macros STR, BOOL, INT, ALNUM,
IP, IPMASK, IPV6, the ``STDCONF`` line shape, ``config_parse``) and ``src/filter.c: filter_init``
(filter-file lexing); research notes §1 and §5.2. Differences that matter:

* 1.11: the name is looked up first (gperf, case-insensitive); the rest must match
  ``^[ \\t]*()[ \\t]+ARG[ \\t]*$``; ``#`` is a comment only in column 0; ``SPACE`` is ``[ \\t]`` so a
  CR before the newline is a syntax error; INT is decimal digits (strtoul base 0: leading 0 = octal).
* 1.8/1.10: every line is tried against every directive regex; BEGIN/END/WS use ``[[:space:]]`` (CR
  tolerated); ``^[[:space:]]*#`` is a comment (indented comments fine); INT may be ``0x…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

V1_8, V1_10, V1_11 = "1.8", "1.10", "1.11"
ALL_VERSIONS = (V1_8, V1_10, V1_11)


@dataclass(frozen=True)
class Grammar:
    """One tinyproxy version's config and filter-file grammar."""

    version: str
    line_max: int  # fgets buffer: a line longer than line_max-1 bytes is split
    space: str  # the regex class of SPACE / WS
    indented_comments: bool
    hex_ints: bool
    filter_flags_or: bool  # 1.11.1: Filter* flags OR-accumulate; older: last wins (DefaultDeny sticky)
    filter_missing_fatal: bool
    filter_skips_indented: bool  # 1.8/1.10 cut the pattern at the first blank from column 0
    filter_type: bool  # FilterType exists
    basic_auth: bool
    upstream_style: str  # "1.8" (upstream h:p, no upstream), "1.10" (typed, ALNUM creds), "1.11"
    dotless_site: bool  # upstream site "." matches dotless hosts (≤1.11.0) vs trailing-dot hosts
    ip_site_for_proxies: bool  # IP/mask sites work for proxy rules (1.11.0+; #363)

    # -- token regexes (Python syntax, compiled with re.IGNORECASE like REG_ICASE) --------------
    @cached_property
    def ws(self) -> str:
        return self.space + "+"

    @cached_property
    def int_re(self) -> str:
        return r"((?:0x)?[0-9]+)" if self.hex_ints else r"([0-9]+)"

    STR = r'"([^"]+)"'
    BOOL = r"(yes|on|no|off)"
    ALNUM = r"([-a-z0-9._]+)"
    IP = r"((?:[0-9]{1,3}\.){3}[0-9]{1,3})"

    # conf.c 1.11.1: "([0-9a-f:]{2,39})|([0-9a-f:]{0,29}:IP)" (no %scope before 1.11.2). 1.8/1.10 spell
    # out every valid IPv6 form instead; the parser checks those with ipaddress (``parser._check_v6``).
    IPV6 = r"([0-9a-f:]{2,39}|[0-9a-f:]{0,29}:(?:[0-9]{1,3}\.){3}[0-9]{1,3})"

    def arg_regex(self, kind: str) -> re.Pattern[str]:
        """The full regex for the text after the directive name, for one argument kind."""
        return _arg_regex(self, kind)


_CACHE: dict[tuple[str, str], re.Pattern[str]] = {}


def _arg_regex(g: Grammar, kind: str) -> re.Pattern[str]:
    key = (g.version, kind)
    if key in _CACHE:
        return _CACHE[key]
    ws, sp = g.ws, g.space
    INT, STR, BOOL, ALNUM, IP, IPV6 = g.int_re, g.STR, g.BOOL, g.ALNUM, g.IP, g.IPV6
    body = {
        "STR": STR,
        "BOOL": BOOL,
        "INT": INT,
        "ALNUM": ALNUM,
        "ADDR": f"({IP}|{IPV6})",
        "ACL": rf"((?:{IP}(/[0-9]+)?)|(?:{IPV6}(/[0-9]+)?)|{ALNUM})",
        "ALNUM ALNUM": ALNUM + ws + ALNUM,
        "INT STR": INT + ws + STR,
        "STR STR": STR + ws + STR,
        "STR [STR]": f"{STR}(?:{ws}{STR})?",
        "LOGLEVEL": r"(critical|error|warning|notice|connect|info)",
        "FILTERTYPE": r"(bre|ere|fnmatch)",
    }
    if kind == "UPSTREAM":
        ip, alnum = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}", r"[-a-z0-9._]+"
        num = r"(?:0x)?[0-9]+" if g.hex_ints else r"[0-9]+"
        site = rf'(?:{ws}"(?P<site>[^"]+)")?'
        if g.upstream_style == V1_11:
            # conf.c 1.11.1: the top-level | is unparenthesised, so the none branch is unanchored at
            # the end and the proxy branch unanchored at the start (research notes §6.1 quirks).
            none = rf'^{sp}*{ws}(?P<none>none){ws}"(?P<nsite>[^"]+)"'
            proxy = (rf"(?P<type>http|socks4|socks5){ws}(?:(?P<user>[^:]*):(?P<password>[^@]*)@)?"
                     rf"(?P<host>{ip}|{alnum}):(?P<port>{num}){site}{sp}*$")
            rx = re.compile(f"{none}|{proxy}", re.IGNORECASE)
        elif g.upstream_style == V1_10:
            rx = re.compile(rf'^{ws}(?:(?P<none>none){ws}"(?P<nsite>[^"]+)"|(?P<type>http|socks4|socks5){ws}'
                            rf"(?:(?P<user>{alnum}):(?P<password>{alnum})@)?"
                            rf"(?P<host>{ip}|{alnum}):(?P<port>{num}){site}){sp}*$", re.IGNORECASE)
        else:  # 1.8: upstream host:port ["site"]
            rx = re.compile(rf"^{ws}(?P<host>{ip}|{alnum}):(?P<port>{num}){site}{sp}*$", re.IGNORECASE)
    elif kind == "NO UPSTREAM":
        rx = re.compile(rf"^{ws}upstream{ws}{STR}{sp}*$", re.IGNORECASE)
    else:
        rx = re.compile(rf"^{sp}*{ws}{body[kind]}{sp}*$", re.IGNORECASE)
    _CACHE[key] = rx
    return rx


GRAMMARS: dict[str, Grammar] = {
    V1_8: Grammar(V1_8, line_max=1024, space=r"[ \t\n\r\f\v]", indented_comments=True, hex_ints=True,
                  filter_flags_or=False, filter_missing_fatal=False, filter_skips_indented=True,
                  filter_type=False, basic_auth=False, upstream_style=V1_8, dotless_site=True,
                  ip_site_for_proxies=False),
    V1_10: Grammar(V1_10, line_max=1024, space=r"[ \t\n\r\f\v]", indented_comments=True, hex_ints=True,
                   filter_flags_or=False, filter_missing_fatal=False, filter_skips_indented=True,
                   filter_type=False, basic_auth=True, upstream_style=V1_10, dotless_site=True,
                   ip_site_for_proxies=False),
    V1_11: Grammar(V1_11, line_max=2048, space=r"[ \t]", indented_comments=False, hex_ints=False,
                   filter_flags_or=True, filter_missing_fatal=True, filter_skips_indented=False,
                   filter_type=True, basic_auth=True, upstream_style=V1_11, dotless_site=False,
                   ip_site_for_proxies=True),
}

FILTER_LINE_MAX = 512  # filter.c FILTER_BUFFER_LEN: fgets reads at most 511 bytes per pattern line


def strtoul0(text: str) -> int:
    """C ``strtoul(text, NULL, 0)`` on a digit string: ``0x`` hex, leading ``0`` octal (stopping at
    the first non-octal digit: ``028100`` is 2), else decimal. Saturates like strtoul."""
    t = text.lower()
    if t.startswith("0x"):
        digits = t[2:]
        value = int(digits, 16) if digits else 0
    elif t.startswith("0"):
        m = re.match(r"[0-7]*", t)
        value = int(m.group(0), 8) if m and m.group(0) else 0
    else:
        value = int(t)
    return min(value, 2**64 - 1)
