"""What differs between the squid series the tests run (5.7, 6.13, 7.x), pinned against the real
binaries: the facts ``--squid-version`` has to encode. If a packaged squid changes, one of these
fails and says which fact moved.

Measured with ``squid -k parse`` on a minimal config per construct (``ok``: exit 0 and no
ERROR/FATAL/unknown line, as ``squid_parse`` judges):

* ``acl … ident`` / ``ident_regex``: fine on 5 and 6, FATAL on 7 ("invalid ACL type 'ident'").
* ``acl … proto cache_object``: fine on 5 and 6; on 7 "Ignoring unknown protocol 'cache_object'"
  and "empty ACL" (the cache_object:// scheme is gone).
* the built-in ``to_linklocal``: missing on 5.7 (FATAL Bungled), built in from 6.
* ``manager`` is built in on all three ("UPGRADE: ACL 'manager' is now a built-in ACL" when a config
  redefines it with ``proto cache_object``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._squid_runtime import SquidRuntime
from tests.conftest import by_squid_series
from tinysquid.squid.check import squid_parse

pytestmark = pytest.mark.integration

# construct → the series on which squid -k parse accepts it
ACCEPTED_ON: dict[str, tuple[str, frozenset[str]]] = {
    "ident-acl": ("acl who ident alice\nhttp_access deny who\n", frozenset({"5", "6"})),
    "ident-regex-acl": ("acl who ident_regex ^a\nhttp_access deny who\n", frozenset({"5", "6"})),
    "proto-cache-object": ("acl co proto cache_object\nhttp_access deny co\n", frozenset({"5", "6"})),
    "builtin-to-linklocal": ("http_access deny to_linklocal\n", frozenset({"6", "7"})),
    "builtin-to-localhost": ("http_access deny to_localhost\n", frozenset({"5", "6", "7"})),
    "builtin-manager": ("http_access allow localhost manager\nhttp_access deny manager\n", frozenset({"5", "6", "7"})),
    "url-regex-cache-object": ("acl co url_regex ^cache_object://\nhttp_access deny co\n", frozenset({"5", "6", "7"})),
    # the SOCKS refusal negates a multi-ACL route through all-of (squid/upstream.py:_socks_denials)
    "all-of-negated": ("acl a port 80\nacl b dstdomain -n .x.test\nacl r all-of a b\nhttp_access deny !r b\n",
                       frozenset({"5", "6", "7"})),
}


@by_squid_series
@pytest.mark.parametrize("construct", sorted(ACCEPTED_ON))
def test_which_series_accepts(construct: str, squid_runtime: SquidRuntime, tmp_path: Path) -> None:
    body, accepted_on = ACCEPTED_ON[construct]
    conf = tmp_path / "squid.conf"
    conf.write_text(f"http_port 127.0.0.1:3128\nvisible_hostname proxy.test\n{body}http_access deny all\n")
    outcome = squid_parse(conf, squid_binary=squid_runtime.binary)
    expected = squid_runtime.series in accepted_on
    assert outcome.ok is expected, (f"{squid_runtime.label}: {construct} is now "
                                    f"{'accepted' if outcome.ok else 'refused'}: {outcome.problems}")


@by_squid_series
def test_redefining_manager_is_an_upgrade_warning(squid_runtime: SquidRuntime, tmp_path: Path) -> None:
    conf = tmp_path / "squid.conf"
    conf.write_text("http_port 127.0.0.1:3128\nvisible_hostname proxy.test\n"
                    "acl manager proto cache_object\nhttp_access deny manager\nhttp_access deny all\n")
    outcome = squid_parse(conf, squid_binary=squid_runtime.binary)
    assert "ACL 'manager' is now a built-in ACL" in outcome.output, outcome.output
