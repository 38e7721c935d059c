"""verify -o html, loaded in a real headless Chromium (Debian's package, driven over CDP).

A real run (the real tinyproxy against the real squid with a hand-widened squid.conf) writes the
page and the JSON document; the browser runs the page's script and the test reads what the page
shows: the counts per result (the summary's and the rows'), differences first, each row's tinyproxy
line, the text box and the result boxes filtering the rows, and that the page loaded nothing.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.integration._browser import browser, file_url
from tinysquid.cli import app
from tinysquid.verify.html import ORDER

pytestmark = pytest.mark.integration

runner = CliRunner()

TP_CONF = """\
Port 8888
Timeout 5
Allow 127.0.0.1
ConnectPort 443
Filter "@WORKDIR@/conv.filter"
FilterDefaultDeny Yes
"""
FILTER = "^api\\.example\\.com$\n^pkg\\.example\\.org$\n"
_KEY = {"error": "errors"}


@pytest.fixture
def html_run(tinyproxy_bin, squid_bin, lab):
    """One verify run whose new proxy lost its CONNECT port rule: some probes widen, most agree."""
    from tinysquid.convert import ConvertOptions, SquidVersion, convert_file
    from tinysquid.verify.probes import from_policy, hosts_of

    lab.write("conv.filter", FILTER)
    conf = lab.write("tinyproxy.conf", TP_CONF)
    squid_conf = convert_file(conf, ConvertOptions(squid_version=SquidVersion.V5)).files["squid.conf"].text
    widened = squid_conf.replace("http_access deny CONNECT !ts_connect_ports\n", "")
    assert widened != squid_conf
    lab.hosts.update(hosts_of(from_policy(convert_file(conf).policy)))
    tp = lab.start_tinyproxy(TP_CONF)
    sq = lab.start_squid(widened)
    report = lab.workdir / "report.json"
    result = runner.invoke(app, ["verify", "--old", tp.url, "--new", sq.url, "--config", str(conf),
                                 "--timeout", "4", "--deadline", "60", "--report", str(report), "-o", "html"])
    assert result.exit_code == 3, result.output
    page = lab.write("report.html", result.stdout)
    return page, json.loads(report.read_text()), conf


def test_page_counts_order_lines_and_filters_in_a_real_browser(html_run):
    page, doc, conf = html_run
    text = page.read_text()
    assert "<link" not in text and " src=" not in text and "@import" not in text
    summary = doc["summary"]
    assert summary["widened"] > 0 and summary["agree"] > 0
    with browser() as b:
        b.open(file_url(page))
        assert b.evaluate("document.body.getAttribute('data-ready')") == "1"  # the script ran
        shown = {k: b.evaluate(f"document.getElementById('count-{k}').textContent") for k in ORDER}
        rows = {k: b.evaluate(f"document.getElementById('rows-{k}').textContent") for k in ORDER}
        for k in ORDER:
            assert shown[k] == rows[k] == str(summary[_KEY.get(k, k)]), k
        assert b.evaluate("document.getElementById('shown').textContent") == str(summary["total"])
        assert b.evaluate("document.querySelectorAll('#counts .warn').length") == 0
        # differences first: the rows' results follow ORDER
        order = b.evaluate("Array.from(document.querySelectorAll('#probes tbody tr'))"
                           ".map(function(r){return r.getAttribute('data-result');})")
        assert order == sorted(order, key=ORDER.index) and order[0] == "widened"
        assert len(order) == summary["total"]
        # the widened row names the tinyproxy line that predicted the refusal, with its text
        culprit = b.evaluate("(function(){var r=Array.from(document.querySelectorAll('#probes tbody tr'))"
                             ".find(function(r){return r.cells[1].textContent==='CONNECT api.example.com:22';});"
                             "return r?r.cells[4].textContent:null;})()")
        assert culprit is not None and f"{conf}:4: ConnectPort 443" in culprit, culprit

        # result boxes: a real click on "agree" hides the agreeing rows
        b.click("#controls input[value=agree]")
        assert b.evaluate("document.querySelector('#controls input[value=agree]').checked") is False
        assert b.evaluate("document.getElementById('shown').textContent") == str(summary["total"] - summary["agree"])
        # the text box, typed key by key: every word must occur in the row
        b.type_into("#q", "api.example.com:22")
        want = sum(1 for p in doc["probes"] if p["result"] != "agree" and "api.example.com:22" in p["request"])
        assert want == 1
        assert b.evaluate("document.getElementById('shown').textContent") == str(want)
        visible = b.evaluate("Array.from(document.querySelectorAll('#probes tbody tr'))"
                             ".filter(function(r){return !r.hidden;}).map(function(r){return r.cells[1].textContent;})")
        assert visible == ["CONNECT api.example.com:22"]
        b.click("#all")
        assert b.evaluate("document.getElementById('shown').textContent") == str(
            sum(1 for p in doc["probes"] if "api.example.com:22" in p["request"]))
        loaded = [e["params"]["request"]["url"] for e in b.events if e["method"] == "Network.requestWillBeSent"]
        assert loaded == [file_url(page)]  # self-contained: nothing else was fetched

        # a linked view: the #q= fragment fills the text box on load
        b.call("Page.navigate", {"url": "about:blank"})
        b.wait_event("Page.loadEventFired")
        b.open(file_url(page) + "#q=widened%20CONNECT")
        want = sum(1 for p in doc["probes"] if p["result"] == "widened" and p["method"] == "CONNECT")
        assert want > 0
        assert b.evaluate("document.getElementById('q').value") == "widened CONNECT"
        assert b.evaluate("document.getElementById('shown').textContent") == str(want)
