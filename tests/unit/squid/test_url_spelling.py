"""FilterURLs blocklist entries against squid's normalised URL (squid/url_spelling.py): the
candidates, and the check that decides them (proof/urls.py's transducer, direction "blocked")."""

from __future__ import annotations

import pytest

from tinysquid.diagnostics import InputError
from tinysquid.policy import posix_regex as rx
from tinysquid.squid import url_spelling as us


@pytest.mark.parametrize(("ere", "wider"), [
    (r"^http://x\.example\./", r"^http://x\.example(\.)?/"),
    (r"^http://x\.example\.\./", r"^http://x\.example(\.)?(\.)?/"),
    (r"^http://x\.example\.+:", r"^http://x\.example(\.+)?:"),
    (r"^http://x\.example:80/", r"^http://x\.example(:80)?/"),
    (r"^http://x\.example$", r"^http://x\.example(/|:443)?$"),
    (r"x\.example\.$", r"x\.example(\.)?(/|:443)?$"),
    (r"^http://x\.example\.[:/]", r"^http://x\.example(\.)?[:/]"),
    (r"^http://x\.example:[0-9]+$", r"^http://x\.example(:[0-9]+)?(/|:443)?$"),
    (r"^http://x\.example\.:8[0-9]/", r"^http://x\.example(\.)?(:8[0-9])?/"),
    (r"^http://x\.example/", None),
    (r"/api/v[0-9]", None),
])
def test_candidates(ere: str, wider: str | None) -> None:
    assert us.widened_for_spelling(ere) == wider


@pytest.mark.parametrize("ere", [r"^http://x\.example\./", r"^http://x\.example:80/", r"^http://x\.example$",
                                 r"x\.example\.:443", r"^x\.example$",
                                 r"^http://x\.example:[0-9]+$"])
def test_the_raw_entry_misses_a_spelling_and_the_candidate_catches_it(ere: str) -> None:
    tree = rx.parse_ere(ere)
    found = us.block_witness(tree, True, [(ere, True)])
    assert found is not None and found.in_left  # tinyproxy blocks it as sent, squid's URL escapes
    wider = us.widened_for_spelling(ere)
    assert wider is not None
    assert us.block_witness(tree, True, [(ere, True), (wider, True)]) is None


def test_an_entry_squid_tests_the_same_has_no_witness() -> None:
    tree = rx.parse_ere(r"^http://x\.example/")
    assert us.block_witness(tree, True, [(r"^http://x\.example/", True)]) is None


def _convert(tmp_path, entries: str):
    from tinysquid.convert import ConvertOptions, convert_file

    (tmp_path / "filter").write_text(entries)
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nFilter "{tmp_path / "filter"}"\nFilterType ere\nFilterURLs On\n')
    return convert_file(conf, ConvertOptions())


def test_convert_widens_and_reports(tmp_path) -> None:
    result = _convert(tmp_path, "^http://evil\\.example\\./\n")
    assert r"^http://evil\.example(\.)?/" in result.files["squid.conf"].text
    codes = {(d.code, d.span.line if d.span else None) for d in result.report}
    assert ("TS291", 1) in codes and not any(d.code == "TS801" for d in result.report)


def test_convert_stops_when_no_widening_holds(tmp_path) -> None:
    # the dot before an optional `x` is the host's trailing dot for `http://e.test./`: no candidate
    with pytest.raises(InputError) as exc:
        _convert(tmp_path, "^http://e\\.test\\.x?/\n")
    assert exc.value.diagnostic.code == "TS253"


def test_an_allowlist_is_not_widened(tmp_path) -> None:
    from tinysquid.convert import ConvertOptions, convert_file

    (tmp_path / "filter").write_text("^http://ok\\.example\\./\n")
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nFilter "{tmp_path / "filter"}"\nFilterType ere\nFilterURLs On\n'
                    "FilterDefaultDeny Yes\n")
    result = convert_file(conf, ConvertOptions())
    assert not any(d.code == "TS291" for d in result.report)
