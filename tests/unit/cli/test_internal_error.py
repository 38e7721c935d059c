"""A bug in tinysquid is exit 70 with one line on stderr; the traceback only with --debug."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Runs the real console entry point with the convert core replaced by one that fails the way a bug
# does; the exception's message stands for a config line that may hold a credential.
_DRIVER = """
import sys
import tinysquid.convert as core
def broken(*a, **k):
    raise RuntimeError("BasicAuth admin s3cr3t-password")
core.convert_file = broken
from tinysquid.cli import main
main(sys.argv[1:])
"""


def _run(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text("Port 8888\n")
    return subprocess.run([sys.executable, "-c", _DRIVER, "convert", str(conf), "--out-dir", str(tmp_path / "out"),
                           *extra], capture_output=True, text=True, timeout=60, env=env, check=False)


def test_unexpected_error_is_exit_70_one_line_no_traceback_no_message(tmp_path: Path) -> None:
    proc = _run(tmp_path)
    assert proc.returncode == 70, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "internal error (RuntimeError at" in lines[0] and "please report it" in lines[0]
    assert "--debug" in lines[0]
    assert "s3cr3t" not in proc.stderr + proc.stdout, "the exception's message may quote a secret"
    assert not (tmp_path / "out").exists(), "nothing is written when convert fails"


@pytest.mark.parametrize("where", ["after", "before"])
def test_debug_shows_the_traceback(tmp_path: Path, where: str) -> None:
    if where == "after":
        proc = _run(tmp_path, "--debug")
    else:
        conf = tmp_path / "tinyproxy.conf"
        conf.write_text("Port 8888\n")
        proc = subprocess.run([sys.executable, "-c", _DRIVER, "--debug", "convert", str(conf), "--out-dir",
                               str(tmp_path / "out")], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 70, proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert "RuntimeError" in proc.stderr


def test_documented_exit_codes_are_untouched(tmp_path: Path) -> None:
    """Bad input stays exit 2 (not 70): only unexpected exceptions are internal errors."""
    proc = subprocess.run([sys.executable, "-m", "tinysquid", "convert", str(tmp_path / "missing.conf"),
                           "--out-dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    assert "TS001" in proc.stderr  # the missing file, not a usage error
    assert "Traceback" not in proc.stderr


def test_help_lists_the_shared_exit_codes() -> None:
    proc = subprocess.run([sys.executable, "-m", "tinysquid", "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0
    assert "70 internal error: tinysquid failed unexpectedly" in " ".join(proc.stdout.split())
    assert "--debug" in proc.stdout
