"""Loopback HTTP servers that answer like broken AWS endpoints, and one that answers like the Price List API.

``JunkEndpoint(kind)`` answers every request the same wrong way (an HTML page, garbage, nothing, a
document of the wrong shape, or never); ``FakePriceList`` answers ``AWSPriceListService.GetProducts``
(JSON 1.1, as botocore's ``pricing`` client speaks it) from a small catalog and records what it was
asked. Both listen on 127.0.0.1 only and are stopped by their context manager.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration._moto import serve_loopback, stop_loopback

# kind → (status, content type, body); "silent" never answers (held until the server stops)
JUNK: dict[str, tuple[int, str, bytes]] = {
    "html-200": (200, "text/html", b"<!DOCTYPE html><html><body>Welcome to the hotel wifi</body></html>"),
    "html-403": (403, "text/html; charset=utf-8", b"<html><body>Access denied by corporate proxy</body></html>"),
    "html-500": (500, "text/html", b"<html><body><h1>500 Internal Server Error</h1></body></html>"),
    "garbage-200": (200, "text/xml", b"\x00\xff\xfe garbage <<< not xml"),
    "empty-200": (200, "text/xml", b""),
    "json-200": (200, "application/json", b'{"hello": "world"}'),
    "wrong-xml-200": (200, "text/xml", b'<?xml version="1.0"?><Unrelated><Thing>1</Thing></Unrelated>'),
    "silent": (0, "", b""),
}


class _Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append((self.command, self.path, dict(self.headers.items()), body))
                owner.handle(self, body)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self._server, self._thread, self.url = serve_loopback(Handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        assert self._server is not None and self._thread is not None
        stop_loopback(self._server, self._thread)

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, status: int, ctype: str, body: bytes) -> None:
        handler.send_response(status)
        if ctype:
            handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


class JunkEndpoint(_Server):
    """Answers every call with ``JUNK[kind]``; ``silent`` holds the request unanswered (≤ 120 s)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if self.kind == "silent":
            self._stop.wait(120)  # bounded: the server's stop releases it
            return
        status, ctype, data = JUNK[self.kind]
        self.reply(handler, status, ctype, data)


# A Price List catalog for the tests: figures chosen to differ from the bundled us-east-1 table, so
# a test sees which one was used. Not real prices.
EFFECTIVE = "2026-11-01T00:00:00Z"


def _product(sku: str, attrs: dict[str, str], usd: str, unit: str) -> str:
    return json.dumps({
        "product": {"sku": sku, "productFamily": attrs.get("productFamily", ""), "attributes": attrs},
        "serviceCode": attrs.get("servicecode", ""),
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "sku": sku, "effectiveDate": EFFECTIVE, "offerTermCode": "JRTCKXETXF",
            "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": unit, "pricePerUnit": {"USD": usd}, "beginRange": "0", "endRange": "Inf",
                "description": f"test price {usd} per {unit}"}}}}},
        "version": "20261101000000", "publicationDate": EFFECTIVE})


def catalog(region: str, prefix: str, ec2: dict[str, str]) -> list[tuple[str, dict[str, str], str]]:
    """(ServiceCode, attributes, price list item) for one region."""
    items: list[tuple[str, dict[str, str], str]] = []

    def add(service: str, attrs: dict[str, str], usd: str, unit: str) -> None:
        attrs = {"regionCode": region, "servicecode": service, **attrs}
        items.append((service, attrs, _product(f"{service}-{len(items)}", attrs, usd, unit)))

    add("AWSELB", {"productFamily": "Load Balancer-Network", "usagetype": f"{prefix}LoadBalancerUsage"}, "0.0252", "Hrs")
    add("AWSELB", {"productFamily": "Load Balancer-Network", "usagetype": f"{prefix}LCUUsage"}, "0.0063", "LCU-Hrs")
    add("AmazonEC2", {"productFamily": "NAT Gateway", "usagetype": f"{prefix}NatGateway-Hours"}, "0.048", "Hrs")
    add("AmazonEC2", {"productFamily": "NAT Gateway", "usagetype": f"{prefix}NatGateway-Bytes"}, "0.048", "GB")
    add("AmazonVPC", {"productFamily": "VPC Public IPv4 Address", "usagetype": f"{prefix}PublicIPv4:InUseAddress"},
        "0.005", "Hrs")
    add("AmazonVPC", {"productFamily": "VPC Public IPv4 Address", "usagetype": f"{prefix}PublicIPv4:IdleAddress"},
        "0.005", "Hrs")
    for itype, usd in ec2.items():
        add("AmazonEC2", {"productFamily": "Compute Instance", "instanceType": itype, "operatingSystem": "Linux",
                          "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
                          "licenseModel": "No License required", "usagetype": f"{prefix}BoxUsage:{itype}"},
            usd, "Hrs")
        # the same type with another OS: a filter that is not applied would pick it up
        add("AmazonEC2", {"productFamily": "Compute Instance", "instanceType": itype, "operatingSystem": "Windows",
                          "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
                          "licenseModel": "No License required", "usagetype": f"{prefix}BoxUsage:{itype}"},
            "9.99", "Hrs")
    return items


class FakePriceList(_Server):
    """``AWSPriceListService.GetProducts`` over JSON 1.1 with TERM_MATCH filters, paged by MaxResults."""

    def __init__(self, items: list[tuple[str, dict[str, str], str]], *, latency: float = 0.0) -> None:
        super().__init__()
        self.items = items
        self.latency = latency

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if self.latency:
            time.sleep(self.latency)
        target = handler.headers.get("X-Amz-Target", "")
        if target != "AWSPriceListService.GetProducts":
            return self.reply(handler, 400, "application/x-amz-json-1.1",
                              json.dumps({"__type": "InvalidParameterException", "message": target}).encode())
        req = json.loads(body or b"{}")
        out = [item for service, attrs, item in self.items
               if service == req.get("ServiceCode")
               and all(attrs.get(f["Field"]) == f["Value"] for f in req.get("Filters", []))]
        start = int(req.get("NextToken") or 0)
        size = int(req.get("MaxResults") or 100)
        page = out[start:start + size]
        answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": page}
        if start + size < len(out):
            answer["NextToken"] = str(start + size)
        self.reply(handler, 200, "application/x-amz-json-1.1", json.dumps(answer).encode())

    def signed_scopes(self) -> set[str]:
        """``region/service`` of every request's SigV4 credential scope."""
        scopes = set()
        for _m, _p, headers, _b in self.requests:
            auth = headers.get("Authorization", "")
            if "Credential=" in auth:
                parts = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
                scopes.add(f"{parts[2]}/{parts[3]}")
        return scopes
