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

import socket
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


@by_squid_series
def test_no_acl_sees_the_host_as_the_client_wrote_it(squid_runtime: SquidRuntime) -> None:
    """Why an allowlist cannot refuse `h.` or `H` while admitting `h` (squid/host_spelling.py): squid
    lower-cases the URL's host and strips its trailing dots (src/anyp/Uri.cc), then rewrites the Host
    header from it (src/servers/Http1Server.cc), before any ACL. If a series ever shows the spelling
    to `req_header Host` or `url_regex`, this fails and the allowlist can fail closed there."""
    from tests.integration.harness import Lab

    conf = ("acl dot_host req_header Host \\.(:[0-9]*)?$\nacl upper_host req_header Host [A-Z]\n"
            "acl upper_url url_regex [A-Z]\nacl dot_url url_regex \\.(:[0-9]*)?/\nacl control req_header Host ^ctl\\.\n"
            "http_access allow dot_host\nhttp_access allow upper_host\nhttp_access allow upper_url\n"
            "http_access allow dot_url\nhttp_access allow control\nhttp_access deny all\n")
    with Lab(hosts=("ctl.example", "api.example.com", "cdn7.example")) as lab:
        sq = lab.start_squid(conf, binary=squid_runtime.binary)
        port = lab.origin_port
        got = {}
        for method, target, host in (("GET", f"http://api.example.com.:{port}/", f"api.example.com.:{port}"),
                                     ("GET", f"http://CdN7.Example:{port}/", f"CdN7.Example:{port}"),
                                     ("CONNECT", f"CdN7.Example.:{lab.echo_port}", f"CdN7.Example.:{lab.echo_port}"),
                                     ("GET", f"http://ctl.example:{port}/", f"ctl.example:{port}")):
            with socket.create_connection(("127.0.0.1", sq.port), timeout=8) as s:
                s.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                head = s.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
            got[target.split(":")[0] if method == "CONNECT" else target.split("/")[2].split(":")[0]] = head.split()[1]
    assert got.pop("ctl.example") != "403", "the control request must be allowed: the probe tests nothing"
    assert set(got.values()) == {"403"}, f"{squid_runtime.label}: a spelling reached an ACL: {got}"
