"""Any bytes given as a tinyproxy.conf end in a Policy or an InputError — never another exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import InputError
from tinysquid.policy import ir, posix_regex
from tinysquid.tinyproxy import read_policy

DIRECTIVE_WORDS = ["Port", "Allow", "Deny", "ConnectPort", "Filter", "FilterType", "FilterURLs", "Upstream",
                   "upstream", "no", "Timeout", "BasicAuth", "Listen", "AddHeader", "Anonymous", "#", "  #"]
VALUES = ["8888", "0", "010", "0x10", '"filter"', '""', "yes", "Off", "fnmatch", "FNMATCH", "none", "http",
          "h:1", "u:p@h:3128", '".example.com"', '"::/0"', "10.0.0.0/33", "::/0", "127.1", "all", "\r", "#x"]

line = st.one_of(
    st.tuples(st.sampled_from(DIRECTIVE_WORDS), st.lists(st.sampled_from(VALUES), max_size=3))
    .map(lambda t: " ".join([t[0], *t[1]])),
    st.text(max_size=40),
)
config_text = st.lists(line, max_size=12).map(lambda ls: "\n".join(ls) + "\n")


def _check(tmp: Path, data: bytes, filter_data: bytes) -> None:
    conf = tmp / "tinyproxy.conf"
    conf.write_bytes(data)
    (tmp / "filter").write_bytes(filter_data)
    for version in ("1.11", "1.10", "1.8"):
        try:
            policy = read_policy(conf, version=version, root=None, report=Report())
        except InputError as exc:
            assert exc.diagnostic.span is not None
            continue
        assert isinstance(policy, ir.Policy)
        _invariants(policy)


def _invariants(policy: ir.Policy) -> None:
    """What every Policy from the front end promises its consumers."""
    assert 1 <= policy.listener.port <= 65535
    if policy.destinations is not None:
        for p in policy.destinations.patterns:
            posix_regex.parse_ere(p.regex)  # valid POSIX ERE
            posix_regex.compile_ere(p.regex, p.case_sensitive)  # and checkable in Python
            assert p.origin is not None
    routes = policy.upstream.routes
    assert all(r.site is not None for r in routes[:-1])  # a default route, if any, is last
    for r in routes:
        assert (r.kind is ir.UpstreamKind.DIRECT) == (r.host is None)
    if policy.connect.ports is not None:
        assert all(1 <= p <= 65535 for p in policy.connect.ports)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(data=b"", filter_data=b" \x1c")  # an indented line of Python-only whitespace (IndexError)
@given(data=st.binary(max_size=300), filter_data=st.binary(max_size=100))
def test_any_bytes(tmp_path, data, filter_data):
    _check(tmp_path, b"Port 8888\nFilter \"filter\"\n" + data, filter_data)
    _check(tmp_path, data, filter_data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=config_text, filter_text=st.text(alphabet="ab.*\\()[]{}|+?^$# \n", max_size=60))
def test_directive_shaped_text(tmp_path, text, filter_text):
    _check(tmp_path, ("Port 8888\n" + text).encode(), filter_text.encode())
