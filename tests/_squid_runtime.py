"""The real squids the tests run: the host's (Debian 12: 5.7) and the packaged squid of minimal
Debian roots (trixie: 6.13, sid: 7.x) that ``scripts/squid-roots`` builds.

A squid in a root is started through a small generated wrapper that behaves like the squid binary
(same arguments), so every caller that takes a squid binary path — ``squid_parse``, the harness's
``Lab.start_squid``, ``_squid_live.run_squid`` — runs it unchanged. The wrapper enters a private
mount namespace (``unshare -m``), mounts ``/proc`` and a private tmpfs on ``/dev/shm`` inside the
root, binds this machine's temp directory at the same path (so every file a test names — configs,
hosts files, password files, pid and log files — is where squid looks) and execs ``chroot ROOT
squid "$@"``. Every step execs, so the process a caller started IS squid and is stopped by its PID;
the mounts belong to the namespace and end when squid and its helpers exit. The root shares this
machine's network namespace: squid listens on loopback like the host's, and the root's resolv.conf
names 127.0.0.1 (no real resolver is ever asked).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The squid series the tests cover, oldest first: the host's 5.7, trixie's 6.13, sid's 7.x.
SERIES = ("5", "6", "7")
ROOTS_ENV = "TINYSQUID_SQUID_ROOTS"  # colon-separated roots (scripts/test sets it from scripts/squid-roots)


@dataclass(frozen=True, slots=True)
class SquidRuntime:
    """One real squid: its version, the path to run it by (host binary or root wrapper), its root."""

    version: str
    binary: str
    root: Path | None = None

    @property
    def series(self) -> str:
        """The major version: ``"5"``, ``"6"``, ``"7"``."""
        return self.version.split(".")[0]

    @property
    def label(self) -> str:
        """``squid 6.13 (root trixie)`` / ``squid 5.7 (host)``."""
        return f"squid {self.version} ({'host' if self.root is None else 'root ' + self.root.name})"


def default_roots() -> list[Path]:
    """Where scripts/squid-roots unpacks the roots, unless TINYSQUID_SQUID_ROOTS names them."""
    env = os.environ.get(ROOTS_ENV)
    if env is not None:
        return [Path(p) for p in env.split(":") if p]
    cache = os.environ.get("TINYSQUID_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinysquid")
    return [Path(cache) / "roots" / suite for suite in ("trixie", "sid")]


def squid_version(binary: str) -> str | None:
    """``squid -v``'s version (``"6.13"``), or None when it does not run."""
    try:
        proc = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Version (\d+\.\d+\S*)", proc.stdout)
    return m.group(1) if proc.returncode == 0 and m else None


def host_runtime() -> SquidRuntime | None:
    """The host's squid, or None."""
    for candidate in (shutil.which("squid"), "/usr/sbin/squid"):
        if candidate and Path(candidate).exists():
            version = squid_version(candidate)
            return SquidRuntime(version, candidate) if version else None
    return None


_WRAPPER = """#!/bin/sh
# squid from the Debian root {root}, called like squid itself (tests/_squid_runtime.py).
exec unshare -m --propagation private sh -c '
  root=$1 tmp=$2; shift 2
  mount -t proc proc "$root/proc" &&
  mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/dev/shm" &&
  mkdir -p "$root$tmp" && mount --bind "$tmp" "$root$tmp" &&
  exec chroot "$root" /usr/sbin/squid "$@"' sh {qroot} {qtmp} "$@"
"""


def root_runtime(root: Path, bindir: Path) -> SquidRuntime | None:
    """The squid of ``root`` through a wrapper written into ``bindir``, or None when it does not run
    (no such root, not root, no unshare)."""
    if os.geteuid() != 0 or not os.path.lexists(root / "usr/sbin/squid") or shutil.which("unshare") is None:
        return None
    tmp = os.path.realpath(tempfile.gettempdir())
    wrapper = bindir / f"squid-{root.name}"
    wrapper.write_text(_WRAPPER.format(root=root, qroot=shlex.quote(str(root)), qtmp=shlex.quote(tmp)))
    wrapper.chmod(0o755)
    version = squid_version(str(wrapper))
    return SquidRuntime(version, str(wrapper), root) if version else None


def discover(bindir: Path) -> dict[str, SquidRuntime]:
    """Every squid this machine can run, by series; the host's first, then the roots in order."""
    found: dict[str, SquidRuntime] = {}
    for runtime in (host_runtime(), *(root_runtime(r, bindir) for r in default_roots())):
        if runtime is not None:
            found.setdefault(runtime.series, runtime)
    return found
