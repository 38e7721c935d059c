"""Run the real ``squid -k parse`` on a squid.conf and say whether squid accepts it."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_BAD = re.compile(r"FATAL|Bungled|ERROR|unrecognized|Unknown|is obsolete", re.IGNORECASE)
# squid ≤6 drops the WIDER network when a narrower one of the same ACL comes first, with only two
# WARNINGs ("'N' is a subnetwork of 'W'", then "because of this 'W' is ignored …"): that silently
# changes what the ACL matches, so it counts as a problem. Dropping the narrower one is harmless.
_SUBNET = re.compile(r"'([^']*)' is a subnetwork of \([AB]\) '([^']*)'")
_IGNORED = re.compile(r"because of this '([^']*)' is ignored")


def _dropped_wider(lines: list[str]) -> list[str]:
    problems = []
    wider = None
    for line in lines:
        m = _SUBNET.search(line)
        if m:
            wider = m.group(2)
            continue
        m = _IGNORED.search(line)
        if m and wider is not None and m.group(1) == wider:
            problems.append(line.strip())
    return problems


@dataclass(frozen=True, slots=True)
class ParseOutcome:
    """``ok`` when squid exits 0 and printed no ERROR/FATAL line; ``problems`` are those lines."""

    ok: bool
    returncode: int
    problems: tuple[str, ...] = ()
    output: str = field(default="", repr=False)

    @property
    def summary(self) -> str:
        """The first problem line, or the exit code."""
        return self.problems[0] if self.problems else f"exit code {self.returncode}"


def find_squid() -> str | None:
    """The squid binary on PATH or in /usr/sbin, or None."""
    return shutil.which("squid") or ("/usr/sbin/squid" if Path("/usr/sbin/squid").exists() else None)


def squid_parse(conf: Path, *, squid_binary: str | None = None, timeout: float = 120) -> ParseOutcome:
    """Run ``squid -k parse -f conf``. squid 5.7 skips bad regexes with only an ERROR line and exit 0,
    so any ERROR/FATAL line counts as a failure too, and so does a dropped wider network.

    Raises:
        FileNotFoundError: no squid binary.
    """
    binary = squid_binary or find_squid()
    if binary is None:
        raise FileNotFoundError("squid")
    proc = subprocess.run([binary, "-k", "parse", "-f", str(conf)], capture_output=True, text=True,
                          timeout=timeout, check=False)
    output = proc.stdout + proc.stderr
    lines = output.splitlines()
    problems = tuple(line.strip() for line in lines if _BAD.search(line)) + tuple(_dropped_wider(lines))
    return ParseOutcome(ok=proc.returncode == 0 and not problems, returncode=proc.returncode,
                        problems=problems, output=output)
