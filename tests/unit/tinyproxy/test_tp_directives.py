"""The directive table is complete and is what the parser uses."""

from __future__ import annotations

import pytest

from tests.unit.tinyproxy._tp import load
from tinysquid.tinyproxy.directives import DIRECTIVES, known
from tinysquid.tinyproxy.grammar import ALL_VERSIONS

# src/conf-tokens.gperf at tag 1.11.1 (the keys of its name lookup)
GPERF_1_11_1 = {
    "logfile", "pidfile", "anonymous", "viaproxyname", "defaulterrorfile", "statfile", "stathost", "xtinyproxy",
    "syslog", "bindsame", "disableviaheader", "port", "maxclients", "maxspareservers", "minspareservers",
    "startservers", "maxrequestsperchild", "timeout", "connectport", "user", "group", "listen", "allow", "deny",
    "bind", "basicauth", "errorfile", "addheader", "filter", "filterurls", "filterextended", "filterdefaultdeny",
    "filtercasesensitive", "filtertype", "reversebaseurl", "reverseonly", "reversemagic", "reversepath",
    "upstream", "loglevel",
}

# STDCONF names of src/conf.c at tags 1.8.4 and 1.10.0, plus their separate upstream entries
_OLD = {"addheader", "allow", "anonymous", "bind", "bindsame", "connectport", "defaulterrorfile", "deny",
        "disableviaheader", "errorfile", "filter", "filtercasesensitive", "filterdefaultdeny", "filterextended",
        "filterurls", "group", "listen", "logfile", "loglevel", "maxclients", "maxrequestsperchild",
        "maxspareservers", "minspareservers", "pidfile", "port", "reversebaseurl", "reversemagic", "reverseonly",
        "reversepath", "startservers", "statfile", "stathost", "syslog", "timeout", "user", "viaproxyname",
        "xtinyproxy", "upstream"}
OLD_NAMES = {"1.8": _OLD, "1.10": _OLD | {"basicauth"}}

SAMPLE = {
    "STR": '"x"', "BOOL": "yes", "INT": "5", "ALNUM": "nobody", "ADDR": "127.0.0.1", "ACL": "127.0.0.1",
    "ALNUM ALNUM": "u p", "INT STR": '404 "x.html"', "STR STR": '"X-A" "1"', "STR [STR]": '"/a/" "http://b/"',
    "LOGLEVEL": "info", "FILTERTYPE": "ere", "UPSTREAM": "http p:3128",
}


def test_1_11_table_equals_tinyproxy_1_11_1_names():
    assert set(known("1.11")) == GPERF_1_11_1


@pytest.mark.parametrize("version", ["1.8", "1.10"])
def test_old_tables_equal_tinyproxy_names(version):
    assert set(known(version)) == OLD_NAMES[version]


def test_rows_are_well_formed():
    names = [d.name.lower() for d in DIRECTIVES]
    assert len(names) == len(set(names))
    for d in DIRECTIVES:
        assert d.support in {"exact", "approximated", "unsupported", "not-applicable"}
        assert set(d.versions) <= set(ALL_VERSIONS)
        assert d.note and d.becomes and d.arguments


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_every_known_directive_parses_and_gets_a_finding(tmp_path, version):
    for d in DIRECTIVES:
        if version not in d.versions or d.name in ("Port", "Filter", "No Upstream"):
            continue
        value = "p:3128" if (d.kind == "UPSTREAM" and version == "1.8") else SAMPLE[d.kind]
        _, report = load(tmp_path, f"Port 8888\n{d.name} {value}\n", version=version)
        assert [x.span.line for x in report.diagnostics if x.status is not None] == [1, 2], d.name
