"""Shared test configuration: where the repository, the examples and the shared corpus are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._squid_runtime import SERIES, SquidRuntime, discover

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def _shared_dir() -> Path:
    """The data kept beside the checkout, not in it: ``../shared`` (``TINYSQUID_SHARED`` elsewhere)."""
    env = os.environ.get("TINYSQUID_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def _corpus_dir() -> Path:
    env = os.environ.get("TINYSQUID_CORPUS")
    if env:
        return Path(env)
    return _shared_dir() / "corpus" / "tinyproxy"


SHARED = _shared_dir()
CORPUS = _corpus_dir()
CHART_RENDERS = SHARED / "chart"  # the chart's real `helm template` output (rendered-*.yaml)
REQUIRE_PROXIES = os.environ.get("TINYSQUID_REQUIRE_PROXIES") == "1"
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")


def require_shared(path: Path, what: str, how: str) -> Path:
    """``path`` (shared data the test needs, outside the checkout); without it the test skips with the
    reason, or FAILS under TINYSQUID_REQUIRE_PROXIES=1 or CI=true, where a missing corpus must not
    turn into a green run that tested nothing."""
    if path.exists():
        return path
    why = f"{what} not found at {path} ({how})"
    if REQUIRE_PROXIES or IN_CI:
        pytest.fail(f"{why}, and TINYSQUID_REQUIRE_PROXIES=1 or CI=true require it")
    pytest.skip(why)
    raise AssertionError("unreachable")


def require_corpus() -> Path:
    """The shared corpus of real-world tinyproxy.conf files (its manifest.json)."""
    return require_shared(CORPUS / "manifest.json", "the shared tinyproxy corpus",
                          "set TINYSQUID_CORPUS to its corpus/tinyproxy folder, or put it at ../shared")


def require_chart_renders() -> Path:
    """The chart's rendered output the post-renderer tests run on."""
    return require_shared(CHART_RENDERS / "rendered-0.9.0-squid.yaml", "the chart's rendered output",
                          "set TINYSQUID_SHARED to the folder holding chart/rendered-*.yaml, or put it at ../shared")


def corpus_params(entries: list[dict]) -> list[object]:
    """Parameters over corpus entries; without the corpus one ``corpus-missing`` case that skips (or
    fails under CI) with the reason, instead of pytest's anonymous empty-parameter-set skip."""
    if entries:
        return [pytest.param(e, id=e["file"]) for e in entries]
    return [pytest.param(None, id="corpus-missing", marks=pytest.mark.corpus)]


def chart_render_params() -> list[object]:
    """Parameters over the chart's rendered-*.yaml; without them one marked ``renders-missing`` case."""
    renders = sorted(CHART_RENDERS.glob("rendered-*.yaml"))
    if renders:
        return [pytest.param(p, id=p.stem) for p in renders]
    return [pytest.param(None, id="renders-missing", marks=pytest.mark.chart_renders)]


@pytest.fixture(autouse=True)
def _shared_data(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.corpus`` / ``@pytest.mark.chart_renders``: the shared data must be there."""
    if request.node.get_closest_marker("corpus") is not None:
        require_corpus()
    if request.node.get_closest_marker("chart_renders") is not None:
        require_chart_renders()


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
