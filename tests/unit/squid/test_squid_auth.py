"""BasicAuth files: $apr1$ hashes the real basic_ncsa_auth accepts, 0600 modes, no secret elsewhere."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.conftest import require_binary
from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Span
from tinysquid.policy import ir
from tinysquid.squid import auth, render


def policy(*users: tuple[str, str]) -> ir.Policy:
    return ir.Policy(listener=ir.Listener(8888), auth=ir.AuthPolicy(tuple(
        ir.BasicAuthUser(u, ir.Secret(p), Span("tinyproxy.conf", i)) for i, (u, p) in enumerate(users, 2))))


def test_apr1_matches_the_reference_vector() -> None:
    # `openssl passwd -apr1 -salt 5RPvHz1f password`
    assert auth.apr1_md5("password", "5RPvHz1f") == "$apr1$5RPvHz1f$pehv6wBjC9h0rGHdK8vJq0"


def test_apr1_random_salt_differs() -> None:
    assert auth.apr1_md5("x") != auth.apr1_md5("x")


def test_no_auth_no_files() -> None:
    assert auth.render_auth_files(ir.Policy(listener=ir.Listener(1)), report=Report()) == {}


def test_files_modes_secret_manifest_and_finding() -> None:
    report = Report()
    files = auth.render_auth_files(policy(("alice", "s3cret"), ("bob", "pw-2"), ("alice", "dup")), report=report)
    assert set(files) == {"htpasswd", "squid-auth-secret.yaml"}
    assert all(f.mode == 0o600 for f in files.values())
    lines = files["htpasswd"].content.splitlines()
    assert [line.split(":")[0] for line in lines] == ["alice", "bob"]
    assert all(line.split(":", 1)[1].startswith("$apr1$") for line in lines)
    doc = yaml.safe_load(files["squid-auth-secret.yaml"].content)
    assert doc["kind"] == "Secret" and doc["stringData"]["passwd"] == files["htpasswd"].content
    [finding] = list(report)
    assert finding.code == "TS265" and "post-renderer" in finding.hint
    everything = "".join(str(f.content) for f in files.values()) + repr(report.to_records())
    assert "s3cret" not in everything and "pw-2" not in everything


def test_squid_conf_never_holds_the_password() -> None:
    text = render.render_squid_conf(policy(("alice", "s3cret")), report=Report())
    assert "s3cret" not in text


def test_real_basic_ncsa_auth_accepts_our_hashes(tmp_path: Path) -> None:
    require_binary("squid")
    helper = Path(render.NCSA_HELPER)
    assert helper.exists(), "squid's basic_ncsa_auth helper is missing"
    passwd = tmp_path / "passwd"
    users = [("alice", "s3cret"), ("Bob", "p.w-x_9"), ("carol", "a-much-longer-password-than-eight")]
    passwd.write_text(auth.htpasswd_text(policy(*users).auth))
    probes = [f"{u} {p}" for u, p in users] + ["alice wrong", "bob p.w-x_9", "carol a-much-lo"]
    out = subprocess.run([str(helper), str(passwd)], input="\n".join(probes) + "\n", capture_output=True,
                         text=True, timeout=10, check=False).stdout.split("\n")
    verdicts = [line.split()[0] for line in out if line.strip()]
    assert verdicts == ["OK", "OK", "OK", "ERR", "ERR", "ERR"]
