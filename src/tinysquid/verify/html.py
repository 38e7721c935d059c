"""``verify -o html``: one self-contained HTML file (inline CSS and JS, nothing fetched: the page's
Content-Security-Policy forbids any load), differences first, filterable by result and by text.

Each row names the input lines that predicted the answer (a record's ``lines``) with the text of
each line as the run read it. The counts at the top come from the run's summary; the script counts
the rows again per result and shows both, so a page that lost rows says so. Rows are plain HTML
(readable without the script); the script only hides rows and updates the counters. No data is put
into the script: every value is HTML-escaped text in the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from html import escape
from typing import IO, Any

from tinysquid.verify.model import Summary
from tinysquid.verify.report import answer_summary

# The order rows appear in: what needs a look first.
ORDER = ("widened", "narrowed", "changed", "error", "noisy", "intended", "agree")
_COUNT_KEY = {"error": "errors"}  # result name -> summary key
MAX_LINE_TEXT = 300  # characters of an input line shown in a row

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
#counts td,#counts th{text-align:right}
code,.line{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all}
.line{display:block;color:#555}
tr.r-widened td.res{background:#f8d0d0;font-weight:bold}
tr.r-narrowed td.res,tr.r-changed td.res{background:#fbe8c0}
tr.r-error td.res{background:#ead0f0}
tr.r-intended td.res{background:#d0ecf0}
tr.r-noisy td.res{background:#eee}
#controls{margin:1em 0;display:flex;gap:1em;flex-wrap:wrap;align-items:center}
#q{width:28em;padding:3px}
.verdict{font-weight:bold}
.warn{color:#a00}
"""

# Filters the rows by the checked results and the text box (every word must occur in the row's
# text, case-insensitive); counts rows per result once at load. The text box also reads the
# page's #q=... fragment, so a filtered view can be linked.
_JS = """
(function(){
var rows=Array.prototype.slice.call(document.querySelectorAll('#probes tbody tr'));
var boxes=Array.prototype.slice.call(document.querySelectorAll('#controls input[type=checkbox]'));
var q=document.getElementById('q');
var per={};
rows.forEach(function(r){var k=r.getAttribute('data-result');per[k]=(per[k]||0)+1;
  r._text=r.textContent.toLowerCase();});
boxes.forEach(function(b){var k=b.value;var n=per[k]||0;
  document.getElementById('rows-'+k).textContent=String(n);
  var want=document.getElementById('count-'+k);
  if(want&&String(n)!==want.textContent){want.className='warn';want.title='the table holds '+n+' row(s)';}});
function apply(){
  var on={};boxes.forEach(function(b){on[b.value]=b.checked;});
  var words=q.value.toLowerCase().split(/\\s+/).filter(function(w){return w.length>0;});
  var shown=0;
  rows.forEach(function(r){
    var ok=on[r.getAttribute('data-result')]===true;
    for(var i=0;ok&&i<words.length;i++){if(r._text.indexOf(words[i])<0){ok=false;}}
    r.hidden=!ok;if(ok){shown++;}});
  document.getElementById('shown').textContent=String(shown);
}
document.getElementById('rows').textContent=String(rows.length);
document.getElementById('rows-all').textContent=String(rows.length);
var m=/^#q=(.*)$/.exec(window.location.hash);
if(m){try{q.value=decodeURIComponent(m[1]);}catch(e){q.value=m[1];}}
q.addEventListener('input',apply);
boxes.forEach(function(b){b.addEventListener('change',apply);});
document.getElementById('all').addEventListener('click',function(){boxes.forEach(function(b){b.checked=true;});apply();});
document.getElementById('diff').addEventListener('click',function(){
  boxes.forEach(function(b){b.checked=b.value!=='agree';});apply();});
document.body.setAttribute('data-ready','1');
apply();
})();
"""


def _split_at(at: str) -> tuple[str, int] | None:
    path, sep, num = at.rpartition(":")
    return (path, int(num)) if sep and path and num.isdigit() else None


def read_lines(wanted: Iterable[str]) -> dict[str, str]:
    """``{"file:line": text}`` for every wanted line that can be read (files streamed once each,
    only the wanted lines kept). An unreadable file leaves its lines out: the row shows the place."""
    by_file: dict[str, set[int]] = {}
    for at in wanted:
        split = _split_at(at)
        if split:
            by_file.setdefault(split[0], set()).add(split[1])
    found: dict[str, str] = {}
    for path, numbers in by_file.items():
        last = max(numbers)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for lineno, text in enumerate(fh, start=1):
                    if lineno in numbers:
                        found[f"{path}:{lineno}"] = text.rstrip("\r\n")
                    if lineno >= last:
                        break
        except OSError:
            continue
    return found


def write_html(out: IO[str], summary: Summary, records: Callable[[], Iterator[dict[str, Any]]], *,
               old: list[str], new: str, complete: bool, verdict: str,
               line_text: Callable[[Iterable[str]], dict[str, str]] = read_lines) -> None:
    """Write the page. ``records`` is called once per pass (a spool re-read: nothing is held in
    memory but the lines' texts): one pass for the lines, then one per result in :data:`ORDER`."""
    wanted: set[str] = set()
    for rec in records():
        wanted.update(rec.get("lines", ()))
    texts = line_text(wanted) if wanted else {}
    counts = summary.counts()
    title = f"tinysquid verify: {', '.join(old)} → {new}"
    w = out.write
    w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
    w("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n")
    w(f"<title>{escape(title)}</title>\n<style>{_CSS}</style></head>\n<body>\n")
    w(f"<h1>{escape(title)}</h1>\n<p class=\"verdict\" id=\"verdict\">{escape(verdict)}</p>\n")
    if not complete:
        w("<p class=\"warn\" id=\"incomplete\">Incomplete run: not every probe was sent.</p>\n")
    w("<table id=\"counts\"><thead><tr><th></th>")
    keys = ("total", *(_COUNT_KEY.get(k, k) for k in ORDER))
    w("".join(f"<th>{k}</th>" for k in keys))
    w("</tr></thead><tbody>\n<tr><th>probes (run summary)</th>")
    w(f"<td id=\"count-total\">{counts['total']}</td>")
    w("".join(f"<td id=\"count-{k}\">{counts[_COUNT_KEY.get(k, k)]}</td>" for k in ORDER))
    w("</tr>\n<tr><th>rows in this page</th><td id=\"rows\"></td>")
    w("".join(f"<td id=\"rows-{k}\"></td>" for k in ORDER))
    w("</tr>\n</tbody></table>\n")
    lat = summary.latency()
    if lat:
        w("<p>time to first byte (ms): ")
        w("; ".join(f"{escape(n)} p50 {v['p50']} p95 {v['p95']}" for n, v in lat.items()))
        w("</p>\n")
    w("<div id=\"controls\"><label>filter <input id=\"q\" type=\"search\" "
      "placeholder=\"words that must all occur, e.g. CONNECT 443\" autocomplete=\"off\"></label>\n")
    for k in ORDER:
        w(f"<label><input type=\"checkbox\" value=\"{k}\" checked> {k}</label>\n")
    w("<button id=\"diff\" type=\"button\">differences only</button>"
      "<button id=\"all\" type=\"button\">all</button>\n")
    w("<span>showing <b id=\"shown\"></b> of <b id=\"rows-all\"></b></span></div>\n")
    w("<table id=\"probes\"><thead><tr><th>result</th><th>request</th><th>old</th><th>new</th>"
      "<th>why (the line that predicted it)</th></tr></thead><tbody>\n")
    for result in ORDER:
        for rec in records():
            if rec["result"] == result:
                w(_row(rec, texts))
    w("</tbody></table>\n")
    w(f"<script>{_JS}</script>\n</body></html>\n")


def _row(rec: dict[str, Any], texts: dict[str, str]) -> str:
    result = rec["result"]
    olds = "<br>".join(f"{escape(a['proxy'])}: {escape(answer_summary(a))}" for a in rec["old"])
    why = escape(rec.get("why", ""))
    if rec.get("note"):
        why += f"<br>{escape(rec['note'])}"
    lines = []
    for at in rec.get("lines", ()):
        text = texts.get(at)
        shown = "" if text is None else ": " + escape(text[:MAX_LINE_TEXT] + ("…" if len(text) > MAX_LINE_TEXT else ""))
        lines.append(f"<span class=\"line\">{escape(at)}{shown}</span>")
    return (f"<tr class=\"r-{escape(result)}\" data-result=\"{escape(result)}\" data-id=\"{rec['id']}\">"
            f"<td class=\"res\">{escape(result)}</td><td><code>{escape(rec['request'])}</code></td>"
            f"<td>{olds}</td><td>{escape(answer_summary(rec['new']))}</td><td>{why}{''.join(lines)}</td></tr>\n")
