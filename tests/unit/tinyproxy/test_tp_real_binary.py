"""The parser's accept/refuse decisions, checked against the real tinyproxy (1.11.1 on Debian 12).

Each config is started with ``tinyproxy -d -c FILE`` listening on 127.0.0.1 only (no traffic is
sent); "Starting main loop" means it accepted the file, an exit means it refused. The lines it warns
about must be the lines we report as dropped-by-tinyproxy.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import InputError, Status
from tinysquid.tinyproxy import read_policy

pytestmark = pytest.mark.integration

CASES = [
    # (id, body after "Port N\nListen 127.0.0.1\n", filter file text or None)
    ("dotted-mask", "Allow 10.0.0.0/255.0.0.0\n", None),
    ("mask-33", "Allow 10.0.0.0/33\nAllow 127.0.0.1\n", None),
    ("indented-comment", "  # indented\n", None),
    ("trailing-comment", "Timeout 5 # c\n", None),
    ("unquoted", "ViaProxyName proxy\n", None),
    ("hash-in-value", 'ViaProxyName "a#b"\n', None),
    ("upper-type-default", "Upstream HTTP p:1\n", None),
    ("upper-type-site", 'upstream HTTP p:1 ".corp"\n', None),
    ("site-with-port", 'upstream http p:1 "example.com:80"\n', None),
    ("default-port-0", "upstream http p:0\n", None),
    ("realm-1.11.1", 'BasicAuthRealm "x"\n', None),
    ("filtertype-upper", "FilterType FNMATCH\n", None),
    ("no-upstream", 'no upstream "x"\n', None),
    ("leading-garbage", "upstream junk http h:1\n", None),
    ("none-trailing-garbage", 'upstream none "x" junk\n', None),
    ("listen-name", "Listen localhost\n", None),
    ("ipv6-scope", "Allow fe80::1%eth0\n", None),
    ("port-too-big", "Port 70000\n", None),
    ("two-ports", "ConnectPort 443 563\n", None),
    ("bool-true", "BindSame true\n", None),
    ("loglevel-debug", "LogLevel Debug\n", None),
    ("crlf", "Timeout 5\r\n", None),
    ("obsolete", "StartServers 5\nMaxSpareServers 2\n", None),
    ("socks-creds", 'upstream socks5 u:p@h:1080 ".x"\n', None),
    ("octal-maxclients", "MaxClients 010\n", None),
    ("long-comment", "#" + "x" * 3000 + "\n", None),  # fgets splits it: the rest is a new line
    ("long-blank-tail", "Timeout 5" + " " * 3000 + "\n", None),
    ("filter-missing", 'Filter "does-not-exist"\n', None),
    ("filter-bre-ok", 'Filter "filter"\nFilterDefaultDeny yes\n', "*.example.com\nexample\\.(com|org)$\nfoo bar\n"),
    ("filter-ere-leading-star", 'Filter "filter"\nFilterType ere\n', "ok\n*.example.com\n"),
    ("filter-bre-bad", 'Filter "filter"\n', "a\\{1\n"),
    ("filter-fnmatch", 'Filter "filter"\nFilterType fnmatch\n', "*.example.com\n[a\n"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_tinyproxy(binary: str, conf: Path, cwd: Path) -> tuple[bool, str]:
    """(accepted, output). Bounded: at most ~5 s; the process is always stopped."""
    proc = subprocess.Popen([binary, "-d", "-c", str(conf)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    accepted = False
    try:
        deadline = time.monotonic() + 5
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Starting main loop" in line:
                accepted = True
                break
    finally:
        proc.kill()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            out.append(proc.stdout.read() or "")
            proc.stdout.close()
    return accepted, "".join(out)


@pytest.mark.parametrize("body,filter_text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_decision_as_real_tinyproxy(tmp_path, body, filter_text):
    binary = require_binary("tinyproxy")
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f"Port {_free_port()}\nListen 127.0.0.1\n" + body)
    if filter_text is not None:
        (tmp_path / "filter").write_text(filter_text)
    accepted, output = _run_tinyproxy(binary, conf, tmp_path)

    report = Report()
    try:
        read_policy(conf, version="1.11", root=None, report=report)
        ours = None
    except InputError as exc:
        ours = exc.diagnostic
    assert accepted == (ours is None), (output, ours and ours.human())

    syntax = re.search(r"Syntax error on line (\d+)", output)
    if syntax:
        # tinyproxy counts fgets calls; we name the real line and keep tinyproxy's count in data
        assert ours.data.get("tinyproxy_line", ours.span.line) == int(syntax.group(1))
        assert ours.span.path == str(conf)
    bad_regex = re.search(r"Bad regex in \S+: line (\d+)", output)
    if bad_regex:
        assert (ours.code, ours.span.line) == ("TS109", int(bad_regex.group(1)))
    if accepted:
        warned = {int(n) for n in re.findall(r"line (\d+): (?!deprecated)", output)}
        warned |= {int(n) for n in re.findall(r"obsolete config item on line (\d+)", output)}
        dropped = {d.span.line for d in report.diagnostics
                   if d.status is Status.DROPPED_BY_TINYPROXY and d.code in ("TS120", "TS121", "TS123", "TS124",
                                                                               "TS125")
                   and d.span.path == str(conf) and "treats the line as" not in d.message}
        assert warned == dropped, output
