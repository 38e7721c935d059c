"""The Dockerfile, without a container engine (none runs here): its instructions are read and
checked (a base pinned by digest, a numeric non-root USER matching the Job's runAsUser, only files
the build context keeps), and its install RUN step is run as written in a temporary venv, offline
(a private network namespace: pip may use only the wheels and file indexes this machine has).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO, REQUIRE_PROXIES
from tinysquid.plan import job

pytestmark = pytest.mark.integration


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        pending += raw.rstrip("\\").strip() + " " if raw.endswith("\\") else raw.strip()
        if raw.endswith("\\"):
            continue
        word, _, rest = pending.partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def _kept_by_dockerignore(path: str) -> bool:
    """Docker's rule: the last matching line decides; ``!`` re-includes."""
    keep = True
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = line[1:] if neg else line
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(path, pat) or path.startswith(pat + "/") or fnmatch.fnmatch(path, pat.replace("**/", "")):
            keep = neg
    return keep


def test_base_is_pinned_small_and_the_user_is_not_root():
    ins = _instructions()
    froms = [a for i, a in ins if i == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?@sha256:[0-9a-f]{64}", froms[0]), froms[0]
    users = [a for i, a in ins if i == "USER"]
    assert users and users[-1] == f"{job.UID}:{job.UID}"  # numeric: runAsNonRoot can check it
    runs = " ".join(a for i, a in ins if i == "RUN")
    assert f"--uid {job.UID}" in runs
    assert [a for i, a in ins if i == "ENTRYPOINT"] == ['["tinysquid"]']
    assert not [a for i, a in ins if i == "ADD"]  # nothing fetched by the build itself
    # the last instruction that runs as someone is the non-root USER
    assert [i for i, _ in ins if i in ("USER", "RUN")][-1] == "USER"


def test_copied_files_exist_and_the_context_keeps_only_them():
    for instr, args in _instructions():
        if instr != "COPY":
            continue
        *sources, _dest = shlex.split(args)
        for src in sources:
            assert (REPO / src).exists(), src
            assert _kept_by_dockerignore(src), src
    for unwanted in (".venv", "tests", "examples", ".git", "src/tinysquid/__pycache__"):
        assert not _kept_by_dockerignore(unwanted), unwanted


def test_the_install_step_installs_a_working_cli_offline(tmp_path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root for an offline network namespace")
    runs = [a for i, a in _instructions() if i == "RUN"]
    install = next(r for r in runs if "pip install" in r)
    context = tmp_path / "build"
    for instr, args in _instructions():
        if instr == "COPY":
            *sources, dest = shlex.split(args)
            for src in sources:
                target = context / dest / (Path(src).name if dest.endswith("/") or len(sources) > 1 else "")
                if (REPO / src).is_dir():
                    shutil.copytree(REPO / src, context / dest, ignore=shutil.ignore_patterns("__pycache__"),
                                    dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(REPO / src, target)
    prefix = tmp_path / "opt"
    step = install.replace("/opt/tinysquid", str(prefix)).replace("python -m venv", f"{sys.executable} -m venv")
    make_venv, _, rest = step.partition(" && ")
    assert "-m venv" in make_venv and "pip install ." in rest
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update({"PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_DEFAULT_TIMEOUT": "5",
                "PIP_RETRIES": "0"})

    def run(command: str) -> subprocess.CompletedProcess[str]:
        # -n: a network namespace with nothing in it, not even loopback up: only local files reach pip
        return subprocess.run(["unshare", "-n", "sh", "-c", command], cwd=context, env=env, capture_output=True,
                              text=True, timeout=540, check=False)

    made = run(make_venv)
    assert made.returncode == 0, made.stderr
    # The build would download the dependencies; offline, the new venv sees the test environment's
    # installed ones (every package but tinysquid itself, linked into a folder of its own).
    deps = tmp_path / "deps"
    deps.mkdir()
    here = Path(sysconfig.get_paths()["purelib"])
    for entry in here.iterdir():
        if "tinysquid" in entry.name.lower() or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    (site,) = prefix.glob("lib/python*/site-packages")
    (site / "tinysquid-test-deps.pth").write_text(f"{deps}\n")
    proc = run(rest)
    if proc.returncode != 0:
        offline = re.search(r"No matching distribution|Could not find a version", proc.stdout + proc.stderr)
        if offline and not REQUIRE_PROXIES:
            pytest.skip("the install step's build backend is not available offline on this machine")
        pytest.fail(f"the Dockerfile's install step failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    assert "tinysquid" in proc.stdout  # the step's own `tinysquid --version`
    out = subprocess.run([str(prefix / "bin" / "tinysquid"), "verify", "--help"], capture_output=True, text=True,
                         timeout=60, check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0 and "--print-job" in out.stdout
