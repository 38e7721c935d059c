"""The table output: no cell prints ``None``/``True``/``False``, and AWS names are never rich markup."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

from rich.console import Console

from tinysquid.cli.inventory import _print_table, _rule, region_line
from tinysquid.inventory.run import RegionSummary

DOC = json.loads((Path(__file__).resolve().parents[3] / "examples" / "inventory.json").read_text())


def _render(doc) -> str:
    buf = io.StringIO()
    _print_table(doc, Console(file=buf, width=400, color_system=None))
    return buf.getvalue()


def _blank(value):
    """Every optional leaf set to None (booleans too), ids and lists kept."""
    if isinstance(value, dict):
        return {k: (v if k in ("id", "arn", "allocation_id", "public_ip", "region", "name", "type", "kind",
                               "zone_name", "zone_id", "points_to", "resource", "item", "basis",
                               "quantity", "unit_price", "monthly_usd", "monthly_total", "stable",
                               "private_zone", "alias", "items", "legacy", "target", "currency",
                               "hours_per_month", "monthly_gb", "incremental_monthly_total", "rule")
                    and not isinstance(v, dict | list) else _blank(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return None


def test_no_cell_prints_none_or_python_booleans():
    doc = copy.deepcopy(DOC)
    for key in ("instances", "load_balancers", "target_groups", "listeners", "security_groups", "egress_ips"):
        doc[key] = _blank(doc[key])
    for tg in doc["target_groups"]:
        tg["arn"] = DOC["target_groups"][0]["arn"]
    for side in ("legacy", "target"):
        for item in doc["costs"][side]["items"]:
            item["basis"]["price_region"] = None
            item["basis"]["as_of"] = None
    text = _render(doc)
    for word in ("None", "True", "False"):
        assert word not in text, word
    assert _render(DOC).count("None") == 0


def test_aws_names_are_text_not_markup():
    doc = copy.deepcopy(DOC)
    doc["instances"][0]["name"] = "[bold red]proxy[/] [/unclosed]"
    text = _render(doc)  # rich would raise MarkupError on [/unclosed] if it were markup
    assert "[bold red]proxy[/] [/unclosed]" in text


def test_rules_read_like_the_console():
    assert _rule({"protocol": "tcp", "from_port": 8888, "to_port": 8888}) == "tcp/8888"
    assert _rule({"protocol": "tcp", "from_port": 1000, "to_port": 2000}) == "tcp/1000-2000"
    assert _rule({"protocol": "-1", "from_port": None, "to_port": None}) == "all traffic"


def test_region_lines_say_what_each_region_held_or_why_it_is_missing():
    assert region_line(RegionSummary("eu-west-1", 0.42, 2, 3, 1)) == (
        "eu-west-1: 2 proxy instance(s), 3 Elastic IP(s), 1 load balancer(s) (0.4 s)")
    assert region_line(RegionSummary("ap-east-1", 0.1, empty=True)) == "ap-east-1: nothing here (0.1 s)"
    assert "missing (rejected)" in region_line(RegionSummary("me-south-1", 1.0, missing="rejected"))
