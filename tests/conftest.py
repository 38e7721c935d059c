"""Shared test configuration: where the repository, the examples and the shared corpus are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._squid_runtime import SERIES, SquidRuntime, discover

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


# --------------------------------------------------------------------------- squid versions
# The real squids (tests/_squid_runtime.py): the host's 5.7 and the 6.13 / 7.x of the Debian roots
# scripts/squid-roots builds. Parametrise a test over them with ``@by_squid_series``; it receives the
# ``squid_runtime`` of each series (skipped when absent, a failure under TINYSQUID_REQUIRE_PROXIES=1).

by_squid_series = pytest.mark.parametrize("squid_runtime", SERIES, indirect=True, ids=lambda s: f"squid{s}")


@pytest.fixture(scope="session")
def squid_runtimes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SquidRuntime]:
    """Every squid this machine can run, by series (``"5"``, ``"6"``, ``"7"``)."""
    return discover(tmp_path_factory.mktemp("squid-runtimes"))


@pytest.fixture
def squid_runtime(request: pytest.FixtureRequest, squid_runtimes: dict[str, SquidRuntime]) -> SquidRuntime:
    """The squid of the series the test is parametrised with (default: the host's 5)."""
    series = str(getattr(request, "param", "5"))
    runtime = squid_runtimes.get(series)
    if runtime is None:
        why = (f"no squid {series}.x here (host squid, or a root from scripts/squid-roots; "
               f"TINYSQUID_SQUID_ROOTS={os.environ.get('TINYSQUID_SQUID_ROOTS', '')!r})")
        if REQUIRE_PROXIES:
            pytest.fail(f"{why} and TINYSQUID_REQUIRE_PROXIES=1")
        pytest.skip(why)
    return runtime
