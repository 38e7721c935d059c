"""No traceback reaches a user: crashes exit 70, bad paths and write errors exit 2, --root confines,
a split credential line is never echoed (issue 9)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tinysquid import cli

CLI = [sys.executable, "-m", "tinysquid"]


def run(*args: str, cwd: Path, preexec=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          preexec_fn=preexec)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    p = tmp_path / "tinyproxy.conf"
    p.write_text("Port 8888\nAllow 127.0.0.1\n")
    return p


def test_unexpected_exception_is_one_line_and_exit_70(monkeypatch, capsys):
    def boom(**_kw):
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setattr(sys, "argv", ["tinysquid", "convert"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and "please report" in err and "second line" not in err
    assert err.count("\n") == 1


def test_debug_shows_the_traceback(monkeypatch, capsys):
    def boom(**_kw):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setattr(sys, "argv", ["tinysquid", "--debug", "convert"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 70 and "Traceback" in capsys.readouterr().err


def test_usage_error_is_exit_2_not_1(tmp_path):
    r = run("convert", "--no-such-option", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_help_lists_exit_codes(tmp_path):
    r = run("--help", cwd=tmp_path)
    assert r.returncode == 0 and "70" in r.stdout and "please report" in r.stdout


@pytest.mark.parametrize("kind", ["parent-is-file", "dangling-symlink", "name-too-long"])
def test_write_errors_are_exit_2_and_leave_nothing(tmp_path, conf, kind):
    if kind == "parent-is-file":
        (tmp_path / "afile").write_text("x")
        out = "afile/out"
    elif kind == "dangling-symlink":
        os.symlink(tmp_path / "missing" / "x", tmp_path / "link")
        out = "link"
    else:
        out = "n" * 300
    r = run("convert", str(conf), "--out-dir", out, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "error:" in r.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_full_disk_is_exit_2_and_leaves_nothing(tmp_path, conf):
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    r = run("convert", str(conf), "--out-dir", "out", cwd=tmp_path, preexec=small_files)
    assert r.returncode == 2 and "TS006" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_force_over_earlier_results_keeps_them_when_the_write_fails(tmp_path, conf):
    assert run("convert", str(conf), "--out-dir", "out", cwd=tmp_path).returncode == 0
    before = (tmp_path / "out" / "squid.conf").read_text()

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    r = run("convert", str(conf), "--out-dir", "out", "--force", cwd=tmp_path, preexec=small_files)
    assert r.returncode == 2
    assert (tmp_path / "out" / "squid.conf").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_plan_out_under_a_file_is_exit_2(tmp_path):
    (tmp_path / "afile").write_text("x")
    r = run("plan-cutover", "--out", "afile/runbook.md", cwd=tmp_path)
    assert r.returncode == 2 and "TS006" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("named", ["/etc/passwd", "/../../../../../etc/passwd", "/etc/lnk"])
def test_root_confines_filter_lookup(tmp_path, named):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "etc" / "lnk")
    c = tmp_path / "tinyproxy.conf"
    c.write_text(f'Port 8888\nFilter "{named}"\nFilterDefaultDeny yes\n')
    r = run("convert", str(c), "--root", str(root), "--out-dir", "out", "-o", "json", cwd=tmp_path)
    assert r.returncode == 2 and "TS108" in r.stderr
    assert "root:" not in r.stdout + r.stderr  # no line of the host's passwd
    assert not (tmp_path / "out").exists()


def test_root_finds_the_file_under_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "filter").write_text("example\\.com\n")
    c = tmp_path / "tinyproxy.conf"
    c.write_text('Port 8888\nFilter "/etc/filter"\nFilterDefaultDeny yes\n')
    r = run("convert", str(c), "--root", str(root), "--out-dir", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "example" in (tmp_path / "out" / "squid.conf").read_text()


@pytest.mark.parametrize("version,limit", [("1.8", 1023), ("1.10", 1023), ("1.11", 2047)])
@pytest.mark.parametrize("shape", ["directive", "comment"])
def test_utf8_character_split_by_the_line_buffer(tmp_path, version, limit, shape):
    head = b'ViaProxyName "' if shape == "directive" else b"#"
    line = head + b"a" * (limit - len(head) - 1) + "é".encode() + b'"\n'
    c = tmp_path / "tinyproxy.conf"
    c.write_bytes(b"Port 8888\n" + line)
    r = run("convert", str(c), "--tinyproxy-version", version, "--out-dir", "out", cwd=tmp_path)
    assert r.returncode == 2 and "TS115" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("version", ["1.8", "1.10", "1.11"])
def test_utf8_character_split_in_filter_line(tmp_path, version):
    f = tmp_path / "filter"
    f.write_bytes(b"a" * 510 + "é".encode() + b"\nexample\\.com\n")
    c = tmp_path / "tinyproxy.conf"
    c.write_text(f'Port 8888\nFilter "{f}"\nFilterDefaultDeny yes\n')
    r = run("convert", str(c), "--tinyproxy-version", version, "--out-dir", "out", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "filter:1:" in r.stderr


@pytest.mark.parametrize("line", [
    "BasicAuth user " + "p" * 2040 + "SECRETTAIL",
    "Upstream http user:" + "p" * 2040 + "SECRETTAIL@proxy:8080",
    'AddHeader "Authorization" "Bearer ' + "p" * 2040 + 'SECRETTAIL"',
    "# BasicAuth user " + "p" * 2040 + "SECRETTAIL",
])
def test_split_credential_line_is_never_echoed(tmp_path, line):
    c = tmp_path / "tinyproxy.conf"
    c.write_text("Port 8888\n" + line + "\n")
    r = run("convert", str(c), "--out-dir", "out", cwd=tmp_path)
    assert r.returncode == 2 and "TS115" in r.stderr
    assert "SECRET" not in r.stderr + r.stdout and "ppp" not in r.stderr


@pytest.mark.parametrize("content", [
    "[" * 100_000,
    '{"a": 1' + "0" * 5000 + "}",
    '{"a": Infinity}',
    '{"a": NaN}',
])
def test_plan_rejects_hostile_json_with_exit_2(tmp_path, content):
    (tmp_path / "inv.json").write_text(content)
    r = run("plan-cutover", "--inventory", "inv.json", cwd=tmp_path)
    assert r.returncode == 2 and "TS005" in r.stderr and "Traceback" not in r.stderr


def test_plan_refuses_a_device_instead_of_reading_it_forever(tmp_path):
    r = run("plan-cutover", "--inventory", "/dev/zero", cwd=tmp_path)
    assert r.returncode == 2 and "TS741" in r.stderr


def test_root_relative_filter_is_found_beside_the_config_and_cannot_climb_out(tmp_path: Path) -> None:
    from tinysquid.convert import ConvertOptions, convert_file
    from tinysquid.diagnostics import InputError

    conf_dir, root = tmp_path / "conf", tmp_path / "root"
    conf_dir.mkdir()
    root.mkdir()
    (conf_dir / "filters").write_text("^ok\\.example$\n")
    conf = conf_dir / "tinyproxy.conf"
    conf.write_text('Port 8888\nFilter "filters"\nFilterDefaultDeny Yes\n')
    result = convert_file(conf, ConvertOptions(root=root))
    assert b"ok.example" in result.files["squid.conf"].data
    depth = len(conf_dir.resolve().parts)
    conf.write_text(f'Port 8888\nFilter "{"../" * depth}etc/passwd"\nFilterDefaultDeny Yes\n')
    with pytest.raises(InputError) as info:
        convert_file(conf, ConvertOptions(root=root))
    assert info.value.diagnostic.code == "TS108"
