"""Any byte string given to `tinysquid convert` ends in a conversion or a clean error.

Clean means: exit 0 (written) or 2 (an error naming file:line:col), never a traceback, and on error
nothing is written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tinysquid.cli import app

DIRECTIVES = ["Port", "Listen", "Bind", "Allow", "Deny", "ConnectPort", "Filter", "FilterURLs",
              "FilterExtended", "FilterType", "FilterDefaultDeny", "FilterCaseSensitive", "Upstream",
              "upstream", "no upstream", "BasicAuth", "AddHeader", "Anonymous", "ViaProxyName",
              "DisableViaHeader", "XTinyproxy", "Timeout", "MaxClients", "User", "LogLevel", "#",
              "ReversePath", "StatHost", "ErrorFile", "Syslog", "BindSame"]
ARGS = ["8888", "0", "010", "65536", "127.0.0.1", "10.0.0.0/8", "::1", "::/0", "fe80::1%lo", "all",
        '"/nonexistent/filter"', '"x"', '""', "yes", "Off", "http 127.0.0.1:3128", "none \".x.example\"",
        "socks5 u:p@h:1080", "user pass", '"X-A" "b"', "ere", "FNMATCH", "127.1", "\t", "'q'", "0x10"]

line = st.one_of(
    st.builds(lambda d, a, sep, end: f"{d}{sep}{a}{end}", st.sampled_from(DIRECTIVES), st.sampled_from(ARGS),
              st.sampled_from([" ", "\t", "  ", ""]), st.sampled_from(["\n", "\r\n", " # c\n", "\n\n"])),
    st.text(max_size=40).map(lambda t: t + "\n"),
)
configs = st.one_of(
    st.lists(line, max_size=12).map(lambda ls: "".join(ls).encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)

runner = CliRunner()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=configs)
def test_any_bytes_convert_or_fail_cleanly(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "tinyproxy.conf"
        conf.write_bytes(data)
        out = Path(tmp) / "out"
        result = runner.invoke(app, ["convert", str(conf), "--out-dir", str(out)])
        assert result.exit_code in (0, 2), (result.exit_code, result.output, data)
        assert "Traceback" not in result.output
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), repr(result.exception)
        if result.exit_code == 2:
            assert not out.exists(), "nothing is written on failure"
            assert "error" in result.output
        else:
            assert (out / "squid.conf").exists() and (out / "report.json").exists()
