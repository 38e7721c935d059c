"""Benchmark: convert a 100,000-entry filter allowlist, beside `squid -k parse` on the result.

Run by hand (never in pytest):  .venv/bin/python benchmarks/convert_large.py [--entries N] [--repeat R]

Measures, in the same run and on the same machine:
- `tinysquid convert` as a user runs it (a fresh process: start-up counts), wall time and peak RSS;
- `squid -k parse -f OUT/squid.conf` wall time (the reference).
Targets (issue #2): convert time ≤ 1.0 × squid's parse time; convert peak RSS ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_input(directory: Path, entries: int, style: str = "mixed") -> Path:
    """An allowlist. ``mixed``: mostly exact hosts and domain suffixes, some real regexes;
    ``anchored``: every entry ``^name\\.tld$``; ``unanchored``: every entry ``name\\.tld`` (the
    common real-world style: each one is a legacy hole with its own finding)."""
    lines = []
    for i in range(entries):
        kind = i % 10
        if style == "anchored":
            lines.append(f"^api{i}\\.vendor{i % 997}\\.example$")
        elif style == "unanchored":
            lines.append(f"api{i}\\.vendor{i % 997}\\.example")
        elif kind < 6:
            lines.append(f"^api{i}\\.vendor{i % 997}\\.example$")
        elif kind < 9:
            lines.append(f"(^|\\.)svc{i}\\.partner{i % 331}\\.example$")
        else:
            lines.append(f"^cdn[0-9]+\\.assets{i}\\.example$")
    (directory / "filter").write_text("\n".join(lines) + "\n")
    conf = directory / "tinyproxy.conf"
    conf.write_text(
        "Port 8888\nTimeout 600\nAllow 10.0.0.0/8\nConnectPort 443\n"
        'Filter "filter"\nFilterExtended On\nFilterDefaultDeny Yes\n'
    )
    return conf


def timed(cmd: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds, peak RSS (KiB) of the child, and the completed process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(after, before), proc


def timed_tty(cmd: list[str]) -> float:
    """Wall seconds of one run with stdout/stderr on a pseudo-terminal (rich styles its output)."""
    import pty

    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execv(cmd[0], cmd)
    while True:
        try:
            if not os.read(fd, 65536):
                break
        except OSError:
            break
    os.waitpid(pid, 0)
    return time.perf_counter() - start


def rss_of(cmd: list[str]) -> int:
    """Peak RSS (KiB) of one run, measured in a fresh helper process so earlier children don't mask it."""
    code = ("import resource,subprocess,sys;subprocess.run(sys.argv[1:],capture_output=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--style", choices=("mixed", "anchored", "unanchored"), default="mixed")
    parser.add_argument("--tty", action="store_true",
                        help="also time convert with its summary going to a pseudo-terminal")
    args = parser.parse_args()
    squid = shutil.which("squid") or "/usr/sbin/squid"
    tinysquid = shutil.which("tinysquid") or str(Path(sys.executable).with_name("tinysquid"))
    with tempfile.TemporaryDirectory(prefix="tinysquid-bench-") as tmp:
        work = Path(tmp)
        conf = make_input(work, args.entries, args.style)
        convert_cmd = [tinysquid, "convert", str(conf), "--out-dir", str(work / "out"), "--force"]
        conv_times, parse_times = [], []
        for _ in range(args.repeat):
            t, _, proc = timed(convert_cmd)
            if proc.returncode not in (0, 1):
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            conv_times.append(t)
            t, _, proc = timed([squid, "-k", "parse", "-f", str(work / "out" / "squid.conf")])
            parse_times.append(t)
        tty_times = [timed_tty(convert_cmd) for _ in range(args.repeat)] if args.tty else []
        conv_rss = rss_of(convert_cmd)
        parse_rss = rss_of([squid, "-k", "parse", "-f", str(work / "out" / "squid.conf")])
        size = (work / "out" / "squid.conf").stat().st_size
    conv, parse = statistics.median(conv_times), statistics.median(parse_times)
    print(f"entries            {args.entries} ({args.style})")
    print(f"squid.conf size    {size / 1e6:.1f} MB")
    print(f"convert (median)   {conv:.2f} s   peak RSS {conv_rss / 1024:.0f} MB")
    print(f"squid -k parse     {parse:.2f} s   peak RSS {parse_rss / 1024:.0f} MB")
    print(f"ratio convert/squid-parse  {conv / parse:.2f}  (target <= 1.00)")
    print(f"convert peak RSS   {conv_rss / 1024:.0f} MB  (target <= 200 MB)")
    if tty_times:
        tty = statistics.median(tty_times)
        print(f"convert to a TTY   {tty:.2f} s   ratio TTY/pipe {tty / conv:.2f}  (target <= 1.20)")
    print(f"cpus {os.cpu_count()}  python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
