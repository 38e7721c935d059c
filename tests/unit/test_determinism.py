"""`convert` output depends only on its input: byte-identical across processes with different hash seeds.

Python randomises str hashing per process, so iterating a set of names (or anything keyed by a hash)
can order output differently run to run. Each run converts the bundled example and the shared
corpus's configs that have a filter file, under two option sets, in a fresh interpreter with its own
PYTHONHASHSEED; every output file (and every refusal message) must match byte for byte, except the
random salt of each htpasswd hash (``$apr1$<salt>$<hash>``), which is random on purpose.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conformance._corpus import MANIFEST, lay_out
from tests.conftest import IN_CI, REQUIRE_PROXIES, require_corpus

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "egress-allowlist" / "tinyproxy.conf"
SEEDS = ("0", "4242")
_SALTED = re.compile(rb"\$apr1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}")

# Runs in the child interpreter: argv = out_dir, then (config, root or "") pairs.
_CHILD = r"""
import sys
from dataclasses import replace
from pathlib import Path
from tinysquid.convert import ConvertOptions, SquidVersion, convert_file, write_outputs
from tinysquid.diagnostics import InputError

out = Path(sys.argv[1])
variants = {"default": ConvertOptions(),
            "v5-tighten-noharden": ConvertOptions(squid_version=SquidVersion.V5, tighten=True, harden=False)}
args = sys.argv[2:]
for i in range(0, len(args), 2):
    conf, root = Path(args[i]), Path(args[i + 1]) if args[i + 1] else None
    for name, opts in variants.items():
        target = out / f"{i // 2:03d}-{name}"
        try:
            result = convert_file(conf, replace(opts, root=root))
        except InputError as exc:
            target.mkdir(parents=True)
            (target / "refused.txt").write_text(exc.diagnostic.human() + "\n")
            continue
        write_outputs(result, target)
# Evidence that the seed reached this interpreter: the iteration order of a set of strings.
print(",".join({f"name-{n}" for n in range(16)}))
"""


def _inputs(tmp_path: Path) -> list[tuple[Path, Path | None]]:
    auth = tmp_path / "auth" / "tinyproxy.conf"
    auth.parent.mkdir(parents=True)
    auth.write_text("Port 8888\nBasicAuth alice s3cret\nBasicAuth bob other\nAllow 10.0.0.0/8\nAllow ::1\n"
                    "ConnectPort 443\nConnectPort 8443\nAddHeader \"X-A\" \"1\"\nAnonymous \"Host\"\n")
    inputs: list[tuple[Path, Path | None]] = [(EXAMPLE, None), (auth, None)]
    if not MANIFEST.exists():
        if REQUIRE_PROXIES or IN_CI:
            require_corpus()  # fails there, naming where the corpus should be
        return inputs  # locally: the bundled example and the auth config only
    entries = [e for e in json.loads(MANIFEST.read_text()) if e["kind"] == "config" and e.get("filter_files")]
    for n, entry in enumerate(sorted(entries, key=lambda e: e["file"])):
        conf, root, _ = lay_out(entry, tmp_path / "corpus" / str(n))
        inputs.append((conf, root))
    return inputs


def _run(seed: str, out: Path, inputs: list[tuple[Path, Path | None]]) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    argv = [sys.executable, "-c", _CHILD, str(out)]
    for conf, root in inputs:
        argv += [str(conf), str(root) if root else ""]
    proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): _SALTED.sub(b"$apr1$<salt>$<hash>", p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_convert_output_is_identical_under_different_hash_seeds(tmp_path: Path):
    inputs = _inputs(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    order_a, order_b = _run(SEEDS[0], a, inputs), _run(SEEDS[1], b, inputs)
    assert order_a != order_b, "the two interpreters iterated a str set alike: the seeds did not take effect"
    tree_a, tree_b = _tree(a), _tree(b)
    assert sum(name.endswith("/squid.conf") for name in tree_a) >= len(inputs), sorted(tree_a)  # not only refusals
    assert any(name.endswith("/htpasswd") for name in tree_a)
    assert sorted(tree_a) == sorted(tree_b)
    differing = [name for name in tree_a if tree_a[name] != tree_b[name]]
    assert differing == [], f"output differs between PYTHONHASHSEED={SEEDS[0]} and {SEEDS[1]}: {differing}"


def test_the_comparison_can_fail(tmp_path: Path):
    """The same tree compare, fed a hash-order-dependent writer, sees the difference."""
    code = "import sys; print('\\n'.join({f'acl n{i}' for i in range(32)}))"
    outs = {seed: subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                                 capture_output=True, text=True, timeout=30, check=True).stdout for seed in SEEDS}
    assert outs[SEEDS[0]] != outs[SEEDS[1]]


@pytest.mark.parametrize("seed", SEEDS)
def test_child_runs_with_the_example_alone(tmp_path: Path, seed: str):
    _run(seed, tmp_path / seed, [(EXAMPLE, None)])
    assert (tmp_path / seed / "000-default" / "squid.conf").is_file()
