"""squid_parse: the real `squid -k parse`, failing on ERROR/FATAL and on a silently dropped network."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_binary
from tinysquid.squid.check import squid_parse

HEAD = "http_port 3128\nhttp_access deny all\n"


@pytest.mark.parametrize(("body", "ok"), [
    ("acl a src 10.0.0.0/8 10.1.0.0/16\n", True),
    ("acl a src 10.1.0.0/16 10.0.0.0/8\n", False),  # the /8 is dropped with only a WARNING
    ("acl r dstdom_regex a{{\n", False),  # 5.7: ERROR, pattern skipped, exit 0
    ("acl d dstdomain example.com .example.com\n", False),  # FATAL
    ("read_timeout 600\n", False),  # missing unit
])
def test_squid_parse_verdicts(body: str, ok: bool, tmp_path: Path) -> None:
    require_binary("squid")
    conf = tmp_path / "squid.conf"
    conf.write_text(body + HEAD)
    outcome = squid_parse(conf)
    assert outcome.ok is ok, outcome.output
    if not ok:
        assert outcome.problems
