"""A real headless Chromium driven over the Chrome DevTools Protocol, standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads CDP commands on fd 3 and writes
answers and events on fd 4, each message one JSON text ending in NUL. No websocket, no port, no
Playwright/Selenium download: Debian's ``chromium`` package is the browser (scripts/test installs it).
Every wait is bounded in time; the browser is stopped by its own PID only.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_PROXIES

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-dev-shm-usage", "--remote-debugging-pipe")
DEADLINE = 30.0  # seconds any one wait may take


def chromium_binary() -> str:
    """Debian's chromium (or TINYSQUID_CHROMIUM); skips when absent, fails under TINYSQUID_REQUIRE_PROXIES=1."""
    path = os.environ.get("TINYSQUID_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    msg = "chromium is not installed (scripts/test installs Debian's chromium package)"
    if REQUIRE_PROXIES:
        pytest.fail(msg + " and TINYSQUID_REQUIRE_PROXIES=1")
    pytest.skip(msg)


class Browser:
    """One page in one headless Chromium; :meth:`call` sends a CDP command and waits for its answer."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.proc = proc
        self._out = to_browser
        self._in = from_browser
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def _send(self, method: str, params: dict[str, Any] | None, session: str) -> int:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data):]
        return self._next

    def _read(self, until: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = until - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError(f"no CDP message (browser exit code {self.proc.poll()})")
            ready, _, _ = select.select([self._in], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._in, 1 << 16)
                if not chunk:
                    raise EOFError("the browser closed its CDP pipe")
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return dict(json.loads(msg))

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None) -> dict[str, Any]:
        """Send one command (on the page's session unless ``session=""``) and return its result."""
        want = self._send(method, params, self.session if session is None else session)
        until = time.monotonic() + DEADLINE
        while True:
            msg = self._read(until)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str) -> dict[str, Any]:
        """The first event named ``method`` (already received or still to come)."""
        for i, ev in enumerate(self.events):
            if ev["method"] == method:
                return self.events.pop(i)
        until = time.monotonic() + DEADLINE
        while True:
            msg = self._read(until)
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        """The value of a JS expression in the page (exceptions raise)."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def open(self, url: str) -> None:
        """Navigate the page and wait for its load event."""
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the middle of the element."""
        box = self.evaluate(f"(function(){{var r=document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2];})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def type_into(self, selector: str, text: str) -> None:
        """Click the field and type ``text`` as keystrokes (one key event per character)."""
        self.click(selector)
        for ch in text:
            self.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": ch, "unmodifiedText": ch, "key": ch})
            self.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": ch})


@contextmanager
def browser() -> Iterator[Browser]:
    """A fresh headless Chromium (its own temporary profile) with one page attached."""
    binary = chromium_binary()
    profile = tempfile.mkdtemp(prefix="tinysquid-chromium-")
    cmd_r, cmd_w = os.pipe()  # we write commands, the browser reads them on fd 3
    ev_r, ev_w = os.pipe()  # the browser writes on fd 4, we read
    # The child's ends moved above fd 10 first, so placing them at 3 and 4 never overwrites one
    # with the other (and dup2 onto a different fd gives an inheritable copy).
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, ev_w)]
    os.close(cmd_r)
    os.close(ev_w)

    def _fds() -> None:  # in the child: the two pipe ends at fd 3 and 4
        os.dup2(high[0], 3)
        os.dup2(high[1], 4)

    log = tempfile.TemporaryFile()  # noqa: SIM115 -- the browser's stderr, closed below
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                            preexec_fn=_fds, pass_fds=(3, 4))
    for fd in high:
        os.close(fd)
    b = Browser(proc, cmd_w, ev_r)
    try:
        until = time.monotonic() + DEADLINE
        page = ""
        while not page:
            targets = b.call("Target.getTargets", session="")["targetInfos"]
            page = next((t["targetId"] for t in targets if t["type"] == "page"), "")
            if not page:
                if time.monotonic() > until:
                    raise TimeoutError("no page target in the browser")
                time.sleep(0.1)
        b.session = b.call("Target.attachToTarget", {"targetId": page, "flatten": True}, session="")["sessionId"]
        b.call("Page.enable")
        b.call("Runtime.enable")
        b.call("Network.enable")
        yield b
    finally:
        try:
            if proc.poll() is None:
                b._send("Browser.close", None, "")
                proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()  # this browser, by its own PID
            proc.wait(timeout=10)
        finally:
            os.close(cmd_w)
            os.close(ev_r)
            log.close()
            shutil.rmtree(profile, ignore_errors=True)


def file_url(path: Path) -> str:
    """``file://`` URL of a local file."""
    return path.resolve().as_uri()
