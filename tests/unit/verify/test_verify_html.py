"""verify -o html without a browser: escaping, row order, the input lines' text, the page's limits.
(The page's script runs in a real Chromium in tests/integration/test_verify_html_browser.py.)"""

from __future__ import annotations

import io
import re

from tinysquid.diagnostics.model import Span
from tinysquid.verify.html import ORDER, read_lines, write_html
from tinysquid.verify.model import Answer, Decision, Method, Outcome, Probe, ProbeResult, Summary


def _page(results: list[ProbeResult], **kw: object) -> str:
    s = Summary()
    for r in results:
        s.add(r)
    buf = io.StringIO()
    write_html(buf, s, lambda: (r.to_record() for r in results), old=["http://o:1"], new="http://n:2",
               complete=bool(kw.get("complete", True)), verdict="verify: <done>")
    return buf.getvalue()


def _result(i: int, outcome: Outcome, host: str = "a.example", lines: tuple[Span, ...] = ()) -> ProbeResult:
    p = Probe(Method.CONNECT, host, 443, why=f"why {i}", lines=lines)
    return ProbeResult(i, p, (Answer("old", 403, Decision.DENIED, 1.0),), Answer("new", 200, Decision.ALLOWED, 1.0),
                       outcome)


def test_rows_come_differences_first_and_every_value_is_escaped(tmp_path):
    outcomes = [Outcome.AGREE, Outcome.INTENDED, Outcome.WIDENED, Outcome.ERROR, Outcome.NARROWED, Outcome.AGREE]
    results = [_result(i, o) for i, o in enumerate(outcomes)]
    results.append(_result(9, Outcome.CHANGED, host="<script>alert(1)</script>"))
    page = _page(results)
    got = re.findall(r'<tr class="r-[a-z]+" data-result="([a-z]+)"', page)
    assert got == sorted(got, key=ORDER.index) and len(got) == len(results)
    assert got[0] == "widened"
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "verify: &lt;done&gt;" in page
    assert page.count("<script>") == 1  # the page's own script, no data inside it
    assert "default-src 'none'" in page  # the CSP: the page may load nothing
    assert 'id="count-widened">1<' in page and 'id="count-error">1<' in page and 'id="count-total">7<' in page


def test_each_row_shows_its_input_lines_with_their_text(tmp_path):
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text("Port 8888\nConnectPort 443\nFilter \"/f\" <b>\n")
    missing = str(tmp_path / "gone.conf")
    r = _result(1, Outcome.WIDENED, lines=(Span(str(conf), 2), Span(str(conf), 3), Span(missing, 7)))
    page = _page([r])
    assert f"{conf}:2: ConnectPort 443" in page
    assert f"{conf}:3: Filter &quot;/f&quot; &lt;b&gt;" in page
    assert f"{missing}:7</span>" in page  # unreadable: the place alone
    assert r.to_record()["lines"] == [f"{conf}:2", f"{conf}:3", f"{missing}:7"]


def test_read_lines_keeps_only_the_wanted_lines(tmp_path):
    log = tmp_path / "t.log"
    log.write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    assert read_lines([f"{log}:3", f"{log}:999", f"{log}:5000", "no-colon", f"{tmp_path}/x:1"]) == {
        f"{log}:3": "line 3", f"{log}:999": "line 999"}


def test_incomplete_run_is_said():
    assert 'id="incomplete"' in _page([_result(1, Outcome.AGREE)], complete=False)
    assert 'id="incomplete"' not in _page([_result(1, Outcome.AGREE)])
