"""Fixtures for the real-proxy integration tests: the binaries and a Lab that always stops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import require_binary
from tests.integration.harness import Lab


@pytest.fixture
def tinyproxy_bin() -> str:
    """The real tinyproxy (skips locally without it; fails under TINYSQUID_REQUIRE_PROXIES=1)."""
    return require_binary("tinyproxy")


@pytest.fixture
def squid_bin() -> str:
    """The real squid."""
    return require_binary("squid")


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A Lab (origin, parent, echo, hosts file); every proxy it started is stopped afterwards."""
    require_binary("unshare")
    with Lab() as the_lab:
        yield the_lab
