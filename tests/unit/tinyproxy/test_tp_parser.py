"""The parser accepts what tinyproxy accepts and refuses the rest with (code, line, col).

Every row is data: (config text, version, expected (code, line, col)). The refusals marked
[verified] in the research notes were checked on the real tinyproxy 1.11.1 (see also
test_tp_real_binary.py, which re-checks a sample against /usr/bin/tinyproxy).
"""

from __future__ import annotations

import pytest

from tests.unit.tinyproxy._tp import error_of, load
from tinysquid.diagnostics.model import InputError

REFUSED = [
    # (id, text, version, (code, line, col))
    ("indented-comment", "Port 8888\n  # hi\n", "1.11", ("TS104", 2, 3)),
    ("trailing-comment", "Port 8888 # x\n", "1.11", ("TS105", 1, 6)),
    ("crlf", "Port 8888\r\n", "1.11", ("TS103", 1, 1)),
    ("crlf-second-line", "Port 8888\nTimeout 5\r\n", "1.11", ("TS103", 2, 1)),
    ("unknown", "Port 8888\nFoo bar\n", "1.11", ("TS102", 2, 1)),
    ("unquoted-str", "Port 8888\nViaProxyName proxy\n", "1.11", ("TS110", 2, 14)),
    ("single-quoted", "Port 8888\nViaProxyName 'proxy'\n", "1.11", ("TS110", 2, 14)),
    ("empty-str", 'Port 8888\nViaProxyName ""\n', "1.11", ("TS110", 2, 14)),
    ("bool-true", "Port 8888\nBindSame true\n", "1.11", ("TS111", 2, 10)),
    ("dotted-mask", "Port 8888\nAllow 10.0.0.0/255.0.0.0\n", "1.11", ("TS112", 2, 7)),
    ("host-port-acl", "Port 8888\nAllow example.com:80\n", "1.11", ("TS101", 2, 7)),
    ("loglevel-debug", "Port 8888\nLogLevel Debug\n", "1.11", ("TS101", 2, 10)),
    ("listen-name", "Port 8888\nListen localhost\n", "1.11", ("TS101", 2, 8)),
    ("quoted-int", 'Port "8888"\n', "1.11", ("TS101", 1, 6)),
    ("quoted-user", 'Port 8888\nUser "nobody"\n', "1.11", ("TS101", 2, 6)),
    ("basicauth-3-words", "Port 8888\nBasicAuth user pass word\n", "1.11", ("TS101", 2, 11)),
    ("ipv6-scope-1.11.1", "Port 8888\nAllow fe80::1%eth0\n", "1.11", ("TS101", 2, 7)),
    ("no-upstream-1.11", 'Port 8888\nno upstream "x"\n', "1.11", ("TS114", 2, 1)),
    ("no-upstream-1.10", 'Port 8888\nno upstream "x"\n', "1.10", ("TS114", 2, 1)),
    ("no-upstream-unquoted-1.8", "Port 8888\nno upstream x\n", "1.8", ("TS101", 2, 1)),
    ("old-upstream-1.11", "Port 8888\nupstream proxy:3128\n", "1.11", ("TS114", 2, 10)),
    ("upstream-none-no-site", "Port 8888\nupstream none\n", "1.11", ("TS101", 2, 10)),
    ("upstream-at-in-password", "Port 8888\nupstream http u:p@ss@h:1\n", "1.11", ("TS101", 2, 10)),
    ("upstream-ipv6-parent-1.11.1", "Port 8888\nupstream http [::1]:3128\n", "1.11", ("TS101", 2, 10)),
    ("basicauthrealm-1.11.1", 'Port 8888\nBasicAuthRealm "x"\n', "1.11", ("TS113", 2, 1)),
    ("filtertype-1.8", "Port 8888\nFilterType ere\n", "1.8", ("TS113", 2, 1)),
    ("basicauth-1.8", "Port 8888\nBasicAuth a b\n", "1.8", ("TS113", 2, 1)),
    ("hex-int-1.11", "Port 0x22b8\n", "1.11", ("TS101", 1, 6)),
    ("hex-letters-1.8", "Port 0x22b8\n", "1.8", ("TS101", 1, 6)),  # 1.8 INT: (0x)?[[:digit:]]+
    ("no-port", "Timeout 5\n", "1.11", ("TS106", 1, 1)),
    ("port-zero", "Port 0\n", "1.11", ("TS106", 1, 6)),
    ("port-too-big", "Port 70000\n", "1.11", ("TS107", 1, 6)),
    ("port-too-big-wins-before-later", "Port 70000\nPort 8888\n", "1.11", ("TS107", 1, 6)),
    ("port-too-big-before-syntax-error", "Port 70000\nFoo\n", "1.11", ("TS107", 1, 6)),
    ("connectport-two-values", "Port 8888\nConnectPort 443 563\n", "1.11", ("TS101", 2, 13)),
    ("trailing-after-proxy-upstream", "Port 8888\nupstream http h:1 junk\n", "1.11", ("TS101", 2, 10)),
    ("long-line", "Port 8888\nViaProxyName \"" + "a" * 3000 + "\"\n", "1.11", ("TS115", 2, 1)),
    ("long-comment", "#" + "x" * 3000 + "\nPort 8888\n", "1.11", ("TS115", 1, 2048)),  # fgets: 2047 bytes
    ("nul-byte", b"Port 8888\n\0\n", "1.11", ("TS002", 2, 1)),
    ("not-utf8", b"Port 8888\nViaProxyName \"\xff\xfe\"\n", "1.11", ("TS002", 2, 15)),
]


@pytest.mark.parametrize("text,version,expected", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused(tmp_path, text, version, expected):
    assert error_of(tmp_path, text, version=version) == expected


ACCEPTED = [
    ("tabs", "Port\t8888\n", "1.11"),
    ("latin1-comment", b"# caf\xe9\nPort 8888\n", "1.11"),  # tinyproxy skips comments byte-wise
    ("column0-comment", "#Port 1\nPort 8888\n", "1.11"),
    ("long-blank-tail", "Port 8888" + " " * 3000 + "\n", "1.11"),  # the split-off rest is blank
    ("hash-in-value", 'Port 8888\nViaProxyName "a#b"\n', "1.11"),
    ("blank-crlf", "Port 8888\n\r\n", "1.11"),
    ("keyword-case", "pORT 8888\nallow 127.0.0.1\n", "1.11"),
    ("bool-case", "Port 8888\nXTinyproxy YES\nSyslog Off\n", "1.11"),
    ("indented-directive", "   Port 8888\n", "1.11"),
    ("crlf-1.8", "Port 8888\r\nTimeout 5\r\n", "1.8"),
    ("indented-comment-1.8", "Port 8888\n   # hi\n", "1.8"),
    ("no-upstream-1.8", 'Port 8888\nno upstream "x"\nupstream proxy:3128 ".example.com"\n', "1.8"),
    ("typed-upstream-1.10", "Port 8888\nupstream socks5 a:b@h:1080\n", "1.10"),
    ("upstream-leading-garbage", "Port 8888\nupstream junk http h:1\n", "1.11"),
    ("upstream-none-trailing-garbage", 'Port 8888\nupstream none "x" junk\n', "1.11"),
    ("ipv4-mapped-acl", "Port 8888\nAllow ::ffff:127.0.0.0/104\n", "1.11"),
    ("upstream-password-chars", "Port 8888\nupstream http u:p:a%ss@h:1\n", "1.11"),
    ("obsolete-knobs", "Port 8888\nStartServers 5\nMaxRequestsPerChild 0\n", "1.11"),
]


@pytest.mark.parametrize("text,version", [r[1:] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
def test_accepted(tmp_path, text, version):
    policy, _ = load(tmp_path, text, version=version)
    assert policy.listener.port == 8888


def test_missing_config_is_input_error(tmp_path):
    from tinysquid.diagnostics import InputError, Report
    from tinysquid.tinyproxy import read_policy

    with pytest.raises(InputError) as exc:
        read_policy(tmp_path / "nope.conf", version="1.11", root=None, report=Report())
    assert exc.value.diagnostic.code == "TS001"


def test_error_names_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tp.conf").write_text("Port 8888 # x\n")
    from pathlib import Path

    from tinysquid.diagnostics import InputError, Report
    from tinysquid.tinyproxy import read_policy

    with pytest.raises(InputError) as exc:
        read_policy(Path("tp.conf"), version="1.11", root=None, report=Report())
    assert str(exc.value).startswith("tp.conf:1:6: TS105")


def test_upstream_credentials_never_in_error_text(tmp_path):
    try:
        load(tmp_path, "Port 8888\nupstream http user:s3cr3t@@h:1\n")
    except Exception as exc:
        assert "s3cr3t" not in str(exc)
    else:
        raise AssertionError("expected a refusal")


@pytest.mark.parametrize("line", [
    "BasicAuth user S3CRETPW word",
    "BasicAuth user S3CRETPW@x",
    "upstream http user:S3CRETPW@@h:1",
    "upstream http user:S3CRETPW h:1",
    "upstream HTTP user:S3CRETPW@h:1",
    'AddHeader "Authorization" \'Bearer S3CRETPW\'',
    'AddHeader "X-Token" S3CRETPW',
    "upstream http user:S3CRETPW@h:1 # comment",
    "upstream http user:S3CRETPW@h:1\r",
])
@pytest.mark.parametrize("version", ["1.8", "1.10", "1.11"])
def test_secrets_never_reach_messages(tmp_path, line, version):
    text = f"Port 8888\n{line}\n"
    try:
        _, report = load(tmp_path, text, version=version)
    except InputError as exc:
        assert "S3CRETPW" not in str(exc) and "S3CRETPW" not in str(exc.diagnostic.to_record())
    else:
        assert all("S3CRETPW" not in str(d.to_record()) for d in report.diagnostics)
