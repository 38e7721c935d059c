"""Shared test configuration: where the repository, the examples and the shared corpus are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def _corpus_dir() -> Path:
    env = os.environ.get("TINYSQUID_CORPUS")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "corpus" / "tinyproxy"


CORPUS = _corpus_dir()
REQUIRE_PROXIES = os.environ.get("TINYSQUID_REQUIRE_PROXIES") == "1"


def require_binary(name: str) -> str:
    """Path of a real binary the test needs; skip without it, or FAIL when CI requires proxies."""
    import shutil

    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    if REQUIRE_PROXIES:
        pytest.fail(f"{name} is not installed and TINYSQUID_REQUIRE_PROXIES=1")
    pytest.skip(f"{name} is not installed")
    raise AssertionError("unreachable")
