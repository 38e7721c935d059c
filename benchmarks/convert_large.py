"""Benchmark: convert a 100,000-entry filter allowlist, beside `squid -k parse` on the result.

Run by hand (never in pytest):  .venv/bin/python benchmarks/convert_large.py [--entries N] [--repeat R]

Measures, in the same run and on the same machine, for each --style (default: anchored, then unanchored):
- `tinysquid convert --only squid.conf` as a user runs it (a fresh process: start-up counts), wall
  time and peak RSS (100,000 entries do not fit the chart's 1 MiB ConfigMap; --all-files measures
  the full conversion, which then stops at that check);
- `squid -k parse -f OUT/squid.conf` wall time and peak RSS (the reference).
Each time is the best of --repeat runs. Targets (issue #12): convert ≤ 1.0 × squid's parse time;
convert peak RSS ≤ 200 MB (anchored) and ≤ 250 MB (unanchored).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
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


TARGET_RSS_MB = {"anchored": 200, "unanchored": 250, "mixed": 200}


def measure(work: Path, args: argparse.Namespace, style: str, squid: str, tinysquid: str) -> dict[str, float]:
    """Best of ``args.repeat`` for convert and for squid's parse of its output, and both peak RSSs."""
    conf = make_input(work, args.entries, style)
    out = work / "out"
    convert_cmd = [tinysquid, "convert", str(conf), "--out-dir", str(out), "--force"]
    if not args.all_files:
        convert_cmd += ["--only", "squid.conf"]
    parse_cmd = [squid, "-k", "parse", "-f", str(out / "squid.conf")]
    conv_times, parse_times = [], []
    for _ in range(args.repeat):
        t, _, proc = timed(convert_cmd)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"convert exited {proc.returncode}:\n{proc.stderr[-2000:]}")
        conv_times.append(t)
        t, _, proc = timed(parse_cmd)
        if proc.returncode != 0:
            raise SystemExit(f"squid -k parse exited {proc.returncode}:\n{proc.stderr[-2000:]}")
        parse_times.append(t)
    result = {"convert": min(conv_times), "parse": min(parse_times),
              "convert_rss": rss_of(convert_cmd) / 1024, "parse_rss": rss_of(parse_cmd) / 1024,
              "conf_mb": (out / "squid.conf").stat().st_size / 1e6}
    if args.tty:
        result["tty"] = min(timed_tty(convert_cmd) for _ in range(args.repeat))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the best one counts")
    parser.add_argument("--style", choices=("mixed", "anchored", "unanchored"), action="append",
                        help="entry shape (repeatable; default: anchored and unanchored)")
    parser.add_argument("--all-files", action="store_true",
                        help="write the whole folder (reports, Helm and deploy files: no --only squid.conf; "
                             "stops at the 1 MiB ConfigMap check above ~30,000 entries)")
    parser.add_argument("--tty", action="store_true",
                        help="also time convert with its summary going to a pseudo-terminal")
    args = parser.parse_args()
    squid = shutil.which("squid") or "/usr/sbin/squid"
    tinysquid = shutil.which("tinysquid") or str(Path(sys.executable).with_name("tinysquid"))
    print(f"convert{'' if args.all_files else ' --only squid.conf'} vs squid -k parse of its output, "
          f"best of {args.repeat}; cpus {os.cpu_count()}, python {sys.version.split()[0]}")
    for style in args.style or ["anchored", "unanchored"]:
        with tempfile.TemporaryDirectory(prefix="tinysquid-bench-") as tmp:
            r = measure(Path(tmp), args, style, squid, tinysquid)
        print(f"{args.entries} {style} entries: squid.conf {r['conf_mb']:.1f} MB")
        print(f"  convert          {r['convert']:.2f} s   peak RSS {r['convert_rss']:.0f} MB "
              f"(target <= {TARGET_RSS_MB[style]} MB)")
        print(f"  squid -k parse   {r['parse']:.2f} s   peak RSS {r['parse_rss']:.0f} MB")
        print(f"  ratio convert/parse  {r['convert'] / r['parse']:.2f}  (target <= 1.00)")
        if "tty" in r:
            print(f"  convert to a TTY {r['tty']:.2f} s   ratio TTY/pipe {r['tty'] / r['convert']:.2f}  "
                  "(target <= 1.20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
