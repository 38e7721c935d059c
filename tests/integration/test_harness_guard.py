"""The harness refuses probes that could leave the machine (the network rule, enforced)."""

from __future__ import annotations

import pytest

from tests.integration.harness import assert_loopback_only
from tinysquid.verify.model import Method, Probe


def _p(host: str) -> Probe:
    return Probe(Method.CONNECT, host, 443, why="guard test")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "::1", "[::1]", "mapped.example", "MAPPED.example.",
                                  "0", "0x0", "127.1", "0x7f.1"])
def test_loopback_and_mapped_names_pass(host):
    assert_loopback_only([_p(host)], {"mapped.example"})


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "169.254.169.254", "8.8.8.8", "fe80::1",
                                  "unmapped.example", "10", "0x0a.1", "2130706433.1"])
def test_anything_else_is_refused(host):
    with pytest.raises(AssertionError):
        assert_loopback_only([_p(host)], {"mapped.example"})
