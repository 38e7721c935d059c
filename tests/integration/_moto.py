"""A moto server on loopback (a real HTTP endpoint, never patched boto3) and a seeded legacy estate.

Used by the inventory integration tests, ``benchmarks/inventory_scale.py`` and
``examples/make_inventory_example.py``. Traffic goes to 127.0.0.1 only; credentials are fake.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",  # never let botocore probe 169.254.169.254
}
_CLEAR = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN",
          "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
          "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL")


# moto accepts any AMI id; asking it for a real one (DescribeImages) costs seconds per region.
AMI = "ami-0123456789abcdef0"


def fake_env(base: dict[str, str] | None = None, *, credentials: bool = True) -> dict[str, str]:
    """An environment with fake credentials (or none), no profile files, no instance metadata."""
    env = dict(os.environ if base is None else base)
    for key in _CLEAR:
        env.pop(key, None)
    env.update(FAKE_ENV)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if not credentials:
        env.pop("AWS_ACCESS_KEY_ID")
        env.pop("AWS_SECRET_ACCESS_KEY")
    return env


def session(region: str = "us-east-1") -> Any:
    """A boto3 Session with the fake credentials (no profile files read)."""
    import boto3

    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)


@contextlib.contextmanager
def fake_aws_env() -> Iterator[Any]:
    """Only fake credentials in the environment (no profile files, no instance metadata) and an empty
    XDG cache while the block runs; yields the MonkeyPatch so a test can change more."""
    import tempfile

    import pytest

    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory(prefix="tinysquid-cache-") as cache:
        for key in list(os.environ):
            if key.startswith("AWS_"):
                mp.delenv(key)
        for key, value in fake_env({}).items():
            mp.setenv(key, value)
        mp.setenv("XDG_CACHE_HOME", cache)  # no Price List answer cached on this machine is read
        yield mp


@contextlib.contextmanager
def threaded_moto() -> Iterator[str]:
    """moto's ThreadedMotoServer on 127.0.0.1, a free port; yields the endpoint URL; always stopped."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """``moto_server`` in a subprocess (its own GIL) on 127.0.0.1; yields the URL; always terminated."""
    port = _free_port()
    exe = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=fake_env())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def reset(url: str) -> None:
    """Forget every resource in the moto server (between tests)."""
    req = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(req, timeout=10).close()


@dataclass
class Estate:
    """The ids the seeded estate was given, for exact assertions."""

    region: str
    proxies: list[str] = field(default_factory=list)
    decoys: list[str] = field(default_factory=list)
    proxy_eips: dict[str, str] = field(default_factory=dict)   # allocation id → public ip
    idle_eip: tuple[str, str] = ("", "")
    decoy_eips: list[str] = field(default_factory=list)
    proxy_private_ips: list[str] = field(default_factory=list)
    nlb_arn: str = ""
    nlb_dns: str = ""
    decoy_nlb_arn: str = ""
    tg_arn: str = ""
    listener_arn: str = ""
    proxy_sg: str = ""
    ssh_sg: str = ""
    decoy_sg: str = ""
    zone_id: str = ""
    azs: tuple[str, str] = ("", "")


def _tags(**kv: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in kv.items()]


def seed_estate(url: str, region: str = "us-east-1", *, dns: bool = True, prefix: str = "") -> Estate:
    """A realistic legacy estate plus decoys in one region (see the inventory tests for the story).

    Two tinyproxy instances (t3.small) in two AZs, each with an Elastic IP; an internal NLB with a TCP
    listener on 8888 forwarding to a target group holding both; a proxy security group allowing
    tcp/8888 from 10.0.0.0/8 and an SSH group; a Route 53 alias and a CNAME to the NLB; an idle EIP
    tagged like the proxies. Decoys in the same VPC: an app instance and a batch instance, their own
    NLB on 443, an EIP on the app instance and an idle untagged EIP.
    """
    s = session(region)
    ec2 = s.client("ec2", endpoint_url=url)
    elb = s.client("elbv2", endpoint_url=url)
    est = Estate(region=region)
    est.azs = (f"{region}a", f"{region}b")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i + 1}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(est.azs)]
    ami = AMI

    est.proxy_sg = ec2.create_security_group(GroupName=f"{prefix}tinyproxy-sg", Description="tinyproxy clients",
                                             VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=est.proxy_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8888, "ToPort": 8888, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    est.ssh_sg = ec2.create_security_group(GroupName=f"{prefix}ssh-admin", Description="bastion ssh",
                                           VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=est.ssh_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    est.decoy_sg = ec2.create_security_group(GroupName=f"{prefix}app-sg", Description="app https",
                                             VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=est.decoy_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])

    for name, subnet in zip(("tinyproxy-a", "tinyproxy-b"), subnets, strict=False):
        inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.small", SubnetId=subnet,
                                 SecurityGroupIds=[est.proxy_sg, est.ssh_sg],
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": _tags(Name=f"{prefix}{name}", Role="tinyproxy",
                                                                   Env="prod")}])["Instances"][0]
        est.proxies.append(inst["InstanceId"])
        est.proxy_private_ips.append(inst["PrivateIpAddress"])
        eip = ec2.allocate_address(Domain="vpc", TagSpecifications=[
            {"ResourceType": "elastic-ip", "Tags": _tags(Name=f"{prefix}{name}-eip", Role="tinyproxy")}])
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=inst["InstanceId"])
        est.proxy_eips[eip["AllocationId"]] = eip["PublicIp"]
    idle = ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": _tags(Name=f"{prefix}tinyproxy-spare", Role="tinyproxy")}])
    est.idle_eip = (idle["AllocationId"], idle["PublicIp"])

    for name, itype, subnet in (("app-1", "t3.medium", subnets[0]), ("batch-1", "t3.small", subnets[1])):
        inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType=itype, SubnetId=subnet,
                                 SecurityGroupIds=[est.decoy_sg, est.ssh_sg],
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": _tags(Name=f"{prefix}{name}", Role="app",
                                                                   Env="prod")}])["Instances"][0]
        est.decoys.append(inst["InstanceId"])
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": _tags(Role="app")}])
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=est.decoys[0])
    est.decoy_eips.append(eip["AllocationId"])
    est.decoy_eips.append(ec2.allocate_address(Domain="vpc")["AllocationId"])

    nlb = elb.create_load_balancer(Name=f"{prefix}tinyproxy-nlb", Subnets=subnets, Scheme="internal",
                                   Type="network")["LoadBalancers"][0]
    est.nlb_arn, est.nlb_dns = nlb["LoadBalancerArn"], nlb["DNSName"]
    tg = elb.create_target_group(Name=f"{prefix}tinyproxy-tg", Protocol="TCP", Port=8888, VpcId=vpc,
                                 TargetType="instance")["TargetGroups"][0]
    est.tg_arn = tg["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=est.tg_arn, Targets=[{"Id": i, "Port": 8888} for i in est.proxies])
    elb.modify_target_group_attributes(TargetGroupArn=est.tg_arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"},
        {"Key": "proxy_protocol_v2.enabled", "Value": "false"},
        {"Key": "preserve_client_ip.enabled", "Value": "true"}])
    est.listener_arn = elb.create_listener(LoadBalancerArn=est.nlb_arn, Protocol="TCP", Port=8888, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": est.tg_arn}])["Listeners"][0]["ListenerArn"]

    decoy_nlb = elb.create_load_balancer(Name=f"{prefix}app-nlb", Subnets=subnets, Scheme="internal",
                                         Type="network")["LoadBalancers"][0]
    est.decoy_nlb_arn = decoy_nlb["LoadBalancerArn"]
    dtg = elb.create_target_group(Name=f"{prefix}app-tg", Protocol="TCP", Port=443, VpcId=vpc,
                                  TargetType="instance")["TargetGroups"][0]
    elb.register_targets(TargetGroupArn=dtg["TargetGroupArn"], Targets=[{"Id": est.decoys[0], "Port": 443}])
    elb.create_listener(LoadBalancerArn=est.decoy_nlb_arn, Protocol="TCP", Port=443, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": dtg["TargetGroupArn"]}])

    if dns:
        r53 = s.client("route53", endpoint_url=url)
        zone = r53.create_hosted_zone(Name="corp.internal", CallerReference=f"{prefix}{region}-{time.time()}",
                                      HostedZoneConfig={"PrivateZone": True, "Comment": "internal"},
                                      VPC={"VPCRegion": region, "VPCId": vpc})["HostedZone"]
        est.zone_id = zone["Id"].split("/")[-1]
        changes = [
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": f"{prefix}proxy.corp.internal", "Type": "A",
                "AliasTarget": {"HostedZoneId": nlb["CanonicalHostedZoneId"], "DNSName": nlb["DNSName"],
                                "EvaluateTargetHealth": True}}},
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": f"{prefix}egress.corp.internal", "Type": "CNAME", "TTL": 300,
                "ResourceRecords": [{"Value": nlb["DNSName"]}]}},
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": f"{prefix}app.corp.internal", "Type": "A",
                "AliasTarget": {"HostedZoneId": decoy_nlb["CanonicalHostedZoneId"], "DNSName": decoy_nlb["DNSName"],
                                "EvaluateTargetHealth": False}}},
        ]
        r53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={"Changes": changes})
    return est


def seed_scale(url: str, region: str, *, instances: int = 500, nlbs: int = 20, eips: int = 200,
               proxies_count: int = 12) -> dict[str, Any]:
    """A large region: ``instances`` instances in all (``proxies_count`` of them proxies, the first 4 with
    an EIP and behind the proxy NLB), ``nlbs`` NLBs, ``eips`` Elastic IPs."""
    s = session(region)
    ec2 = s.client("ec2", endpoint_url=url)
    elb = s.client("elbv2", endpoint_url=url)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i * 16}.0/20", AvailabilityZone=f"{region}{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    ami = AMI
    sg = ec2.create_security_group(GroupName="fleet", Description="fleet", VpcId=vpc)["GroupId"]
    ids: list[str] = []
    # Launched in batches of 10: moto pages DescribeInstances by reservation, as AWS may.
    fleet = instances - proxies_count
    for n in range(0, fleet, 10):
        count = min(10, fleet - n)
        res = ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count, InstanceType="t3.micro",
                                SubnetId=subnets[(n // 10) % 2], SecurityGroupIds=[sg],
                                TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(Role="fleet")}])
        ids += [i["InstanceId"] for i in res["Instances"]]
    # The proxies, one reservation each so that even the filtered proxy query spans several pages.
    proxies = []
    for n in range(proxies_count):
        res = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.small",
                                SubnetId=subnets[n % 2], SecurityGroupIds=[sg],
                                TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(Role="tinyproxy")}])
        proxies.append(res["Instances"][0]["InstanceId"])
    allocs = []
    for k in range(eips):
        a = ec2.allocate_address(Domain="vpc")
        allocs.append(a["AllocationId"])
        if k < 4:
            ec2.associate_address(AllocationId=a["AllocationId"], InstanceId=proxies[k])
    tg_arns = []
    for k in range(nlbs):
        lb = elb.create_load_balancer(Name=f"nlb-{k}", Subnets=subnets, Scheme="internal",
                                      Type="network")["LoadBalancers"][0]
        port = 8888 if k == 0 else 9000 + k
        tg = elb.create_target_group(Name=f"tg-{k}", Protocol="TCP", Port=port, VpcId=vpc,
                                     TargetType="instance")["TargetGroups"][0]
        members = proxies[:4] if k == 0 else ids[10 + k * 5: 15 + k * 5]
        elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in members])
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=port,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
        tg_arns.append(tg["TargetGroupArn"])
    return {"proxies": proxies, "instances": ids + proxies, "eips": allocs, "tg_arns": tg_arns}


# --- a recording, refusing reverse proxy in front of moto ------------------------------------------

_ERROR_BODIES = {
    # EC2 (ec2 query protocol) answers UnauthorizedOperation in <Response><Errors>…
    "ec2": ('<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation'
            '</Code><Message>You are not authorized to perform this operation. ({action})</Message></Error>'
            '</Errors><RequestID>tinysquid-test</RequestID></Response>'),
    # query / rest-xml services answer AccessDenied in <ErrorResponse>
    "other": ('<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied'
              '</Code><Message>User is not authorized to perform: {action}</Message></Error>'
              '<RequestId>tinysquid-test</RequestId></ErrorResponse>'),
}


def _route53_action(method: str, path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts[:2] == ["2013-04-01", "hostedzone"]:
        if len(parts) == 2:
            return "ListHostedZones" if method == "GET" else "CreateHostedZone"
        if len(parts) >= 4 and parts[3] == "rrset":
            return "ListResourceRecordSets" if method == "GET" else "ChangeResourceRecordSets"
        return "GetHostedZone" if method == "GET" else f"{method}HostedZone"
    return f"{method} {path}"



def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, threading.Thread, str]:
    """A threaded HTTP server with ``handler`` on a free 127.0.0.1 port: (server, thread, url)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}"


def stop_loopback(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    """Stop what :func:`serve_loopback` started (bounded)."""
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class RecordingProxy:
    """HTTP reverse proxy on 127.0.0.1 that logs (service, region, action) and refuses chosen actions.

    ``deny`` holds (iam_service, action or "*", region or "*"). ``regions`` (optional) answers
    DescribeRegions itself with just these regions, so --all-regions stays fast against moto.
    ``latency`` delays every request (the benchmark's model of a remote endpoint).
    """

    def __init__(self, upstream: str, *, deny: set[tuple[str, str, str]] = frozenset(),
                 regions: list[str] | None = None, latency: float = 0.0, code: str | None = None,
                 throttle: dict[str, int] | None = None) -> None:
        self.upstream = upstream
        self.code = code  # error code answered for denied calls (default AccessDenied/UnauthorizedOperation)
        self.throttle = dict(throttle or {})  # action → how many times to answer Throttling first
        self.latency = latency  # seconds added to every request (models a remote API endpoint)
        self.deny = set(deny)
        self.regions = regions
        self.calls: list[tuple[str, str, str]] = []
        self.url = ""
        self._server: Any = None
        self._thread: Any = None

    def __enter__(self) -> RecordingProxy:
        import http.client
        import urllib.parse

        proxy = self
        up = urllib.parse.urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization", "")
                scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/") if "Credential=" in auth else []
                region, service = (scope[2], scope[3]) if len(scope) >= 5 else ("?", "?")
                if service == "route53":
                    action = _route53_action(self.command, self.path)
                else:
                    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                    action = (form.get("Action") or ["?"])[0]
                proxy.calls.append((service, region, action))
                if proxy.latency:
                    time.sleep(proxy.latency)
                if any(s == service and a in (action, "*") and r in (region, "*") for s, a, r in proxy.deny):
                    text = _ERROR_BODIES["ec2" if service == "ec2" else "other"].format(action=f"{service}:{action}")
                    if proxy.code:
                        text = re.sub(r"<Code>\w+</Code>", f"<Code>{proxy.code}</Code>", text)
                    return self._reply(403, text.encode(), "text/xml")
                if proxy.throttle.get(action, 0) > 0:
                    proxy.throttle[action] -= 1
                    text = _ERROR_BODIES["other"].format(action=action).replace("AccessDenied", "Throttling")
                    if service == "ec2":
                        text = _ERROR_BODIES["ec2"].format(action=action).replace(
                            "UnauthorizedOperation", "RequestLimitExceeded")
                    return self._reply(503 if service == "ec2" else 400, text.encode(), "text/xml")
                if service == "ec2" and action == "DescribeRegions" and proxy.regions is not None:
                    items = "".join(f"<item><regionName>{r}</regionName><regionEndpoint>ec2.{r}.amazonaws.com"
                                    f"</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>"
                                    for r in proxy.regions)
                    text = ('<?xml version="1.0" encoding="UTF-8"?><DescribeRegionsResponse xmlns='
                            '"http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>t</requestId>'
                            f"<regionInfo>{items}</regionInfo></DescribeRegionsResponse>")
                    return self._reply(200, text.encode(), "text/xml")
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self._reply(resp.status, data, resp.getheader("Content-Type", "text/xml"))
                finally:
                    conn.close()

            def _reply(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server, self._thread, self.url = serve_loopback(Handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        stop_loopback(self._server, self._thread)

    def actions(self) -> set[str]:
        """Every IAM action seen, ``service:Action``."""
        return {f"{s}:{a}" for s, _r, a in self.calls}
