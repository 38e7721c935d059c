"""convert refuses what Kubernetes would refuse (1 MiB ConfigMap / release Secret) and warns near it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tinysquid.cli import app
from tinysquid.helm import size


def _config(tmp_path: Path, entries: int) -> Path:
    filt = tmp_path / "filter"
    filt.write_text("".join(f"^(.*\\.)?svc{i:05d}-api\\.example-partner\\.com$\n" for i in range(entries)))
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nFilter "{filt}"\nFilterDefaultDeny Yes\nFilterExtended On\nAllow 10.0.0.0/8\n')
    return conf


def _run(args: list[str]):
    return CliRunner().invoke(app, args)


def test_5000_entries_fit_and_the_sizes_are_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run(["convert", str(_config(tmp_path, 5000)), "--out-dir", str(out)])
    assert done.exit_code == 0, done.output
    import json

    report = json.loads((out / "report.json").read_text())
    found = [f for f in report["findings"] if f.get("code") == "TS342"]
    assert found, "TS342 missing"
    data = found[0]["data"]
    assert data["configmap_bytes"] < size.LIMIT and data["release_secret_bytes_estimate"] < size.LIMIT
    values = (out / "values.yaml").read_text()
    assert data["configmap_bytes"] >= len(values.split("squid.conf: |", 1)[1]) // 2


def test_40000_entries_exit_2_naming_the_limit_and_write_nothing(tmp_path: Path) -> None:
    # The chart copy carries no per-entry comments (the standalone squid.conf and the report keep the
    # entry → line mapping), so 20,000 of these entries fit; 40,000 (~1.4 MB of ACL values) do not.
    out = tmp_path / "out"
    done = _run(["convert", str(_config(tmp_path, 40000)), "--out-dir", str(out)])
    assert done.exit_code == 2, done.output
    assert "TS340" in done.output and "1 MiB" in done.output and "1,048,576" in done.output
    assert not out.exists()


def test_only_squid_conf_writes_the_40000_entries_without_the_chart_files(tmp_path: Path) -> None:
    # A filter that TS340 refuses for the chart: --only squid.conf builds no chart file, skips their
    # size check, says so (TS405), and writes the same squid.conf a full conversion would.
    from tinysquid import convert

    filt = tmp_path / "filter"
    filt.write_text("".join(f"^svc{i:05d}-api\\.example-partner\\.com$\n" for i in range(40000)))
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nFilter "{filt}"\nFilterDefaultDeny Yes\nFilterExtended On\nAllow 10.0.0.0/8\n')
    assert _run(["convert", str(conf), "--out-dir", str(tmp_path / "chart")]).exit_code == 2  # TS340, as below
    out = tmp_path / "out"
    done = _run(["convert", str(conf), "--out-dir", str(out), "--only", "squid.conf"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == ["squid.conf"]
    assert "svc39999-api" in (out / "squid.conf").read_text()
    result = convert.convert_file(conf, convert.ConvertOptions(only=convert.OutputSet.SQUID_CONF))
    assert "values.yaml" not in result.files and "report.json" in result.files
    codes = {d.code for d in result.report.diagnostics}
    assert "TS405" in codes and not codes & {"TS340", "TS341", "TS342"}
    report = json.loads(result.files["report.json"].text)
    assert report["options"]["only"] == "squid-conf"

    (tmp_path / "small").mkdir()
    small = _config(tmp_path / "small", 50)
    both = [tmp_path / "all", tmp_path / "only"]
    assert _run(["convert", str(small), "--out-dir", str(both[0])]).exit_code == 0
    assert _run(["convert", str(small), "--out-dir", str(both[1]), "--only", "squid.conf"]).exit_code == 0
    assert (both[0] / "squid.conf").read_bytes() == (both[1] / "squid.conf").read_bytes()
    assert "only" not in json.loads((both[0] / "report.json").read_text())["options"]
    assert "TS405" not in (both[0] / "report.json").read_text()


def test_near_the_limit_warns() -> None:
    sizes = size.Sizes(configmap=int(0.85 * size.LIMIT), release=1000)
    assert [n for n, _ in sizes.near()] == ["ConfigMap <release>-squid-conf"] and not sizes.over()
    assert size.Sizes(configmap=size.LIMIT, release=0).over() == []          # exactly 1 MiB is accepted
    assert size.Sizes(configmap=size.LIMIT + 1, release=0).over()


def test_rendered_conf_resolves_the_chart_templates() -> None:
    conf = 'http_port {{ .Values.service.targetPort }}\nacl x url_regex {{"{{"}}a\n'
    assert size.rendered_conf(conf, {"service": {"targetPort": 3128}}) == "http_port 3128\nacl x url_regex {{a\n"


def test_release_estimate_counts_squid_conf_twice() -> None:
    import random

    rnd = random.Random(13)
    conf = "".join(f"acl a dstdomain .h{rnd.getrandbits(64):x}.example\n" for _ in range(20000))
    one = size.estimate_release_bytes({"config": {"squid.conf": ""}}, conf, "0.9")
    two = size.estimate_release_bytes({"config": {"squid.conf": conf}}, conf, "0.9")
    assert two > 1.8 * (one - 4 * size.CHART_OVERHEAD_GZ["0.9"] // 3)
