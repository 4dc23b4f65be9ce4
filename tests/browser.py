"""Drive headless Chromium over the DevTools protocol, with the standard library only.

The DevTools protocol runs over ``--remote-debugging-pipe`` (file descriptors 3 and 4, JSON
messages ending in a NUL byte) rather than a WebSocket, so the tests need no extra package.
:func:`load_page` opens one URL in a fresh profile, records every network request, console
message, log entry, uncaught exception and JavaScript dialog, takes a full-page screenshot and
evaluates a few expressions, then closes the browser.

Usage::

    from tests.browser import chromium, load_page
    visit = load_page(path.as_uri(), tmp_path / "page.png", evaluate={"title": "document.title"})
    assert visit.remote_requests == []
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def chromium() -> str | None:
    """Path of the Chromium binary, or None when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Visit:
    """What happened while one page loaded."""

    url: str
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    log_entries: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    screenshot: Path | None = None

    @property
    def remote_requests(self) -> list[str]:
        """Requests for anything that is not a local file (or an inline data: URL)."""
        return [url for url in self.requests if not url.startswith(("file://", "data:"))]

    @property
    def errors(self) -> list[str]:
        """Console errors, error-level log entries, uncaught exceptions and failed loads."""
        return (
            [text for level, text in self.console if level in ("error", "assert")]
            + [text for level, text in self.log_entries if level == "error"]
            + self.exceptions
            + self.failed_requests
        )


class _Pipe:
    """One DevTools connection over Chromium's pipe: send commands, collect events."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._out = to_browser
        self._in = from_browser
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        wanted = self._next_id
        message: dict[str, Any] = {"id": wanted, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for reply in self._read(deadline - time.monotonic()):
                if reply.get("id") == wanted:
                    if "error" in reply:
                        raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                    return reply.get("result", {})
                self.events.append(reply)
            if time.monotonic() > deadline:
                raise TimeoutError(f"DevTools {method}: no reply in {timeout} s")

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.events.extend(self._read(deadline - time.monotonic()))

    def wait_for(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while time.monotonic() < deadline:
            if any(event.get("method") == method for event in self.events[seen:]):
                return True
            self.events.extend(self._read(deadline - time.monotonic()))
        return any(event.get("method") == method for event in self.events[seen:])

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        ready, _, _ = select.select([self._in], [], [], max(timeout, 0))
        if ready:
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        messages = []
        while b"\0" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\0", 1)
            message = json.loads(raw)
            if message.get("method") == "Page.javascriptDialogOpening":
                # A dialog (say, an alert() injected through data) blocks the page until answered.
                self._next_id += 1
                answer = {"id": self._next_id, "method": "Page.handleJavaScriptDialog", "params": {"accept": True}, "sessionId": message.get("sessionId")}
                os.write(self._out, json.dumps(answer).encode() + b"\0")
            messages.append(message)
        return messages


def _high_fd(fd: int) -> int:
    """Duplicate ``fd`` above 10 so that moving it to 3 or 4 in the child cannot clobber the other."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def load_page(url: str, screenshot: Path | None = None, evaluate: dict[str, str] | None = None, width: int = 1280, settle: float = 1.5) -> Visit:
    """Open ``url`` in a fresh headless Chromium and report what the page did.

    ``settle`` is how long to keep listening after the load event (charts draw asynchronously);
    ``evaluate`` maps names to JavaScript expressions whose JSON values land in ``Visit.values``.
    """
    binary = chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    to_child_read, to_child_write = (_high_fd(fd) for fd in os.pipe())
    from_child_read, from_child_write = (_high_fd(fd) for fd in os.pipe())

    def _wire_fds() -> None:  # runs in the child before exec: DevTools reads fd 3, writes fd 4
        os.dup2(to_child_read, 3)
        os.dup2(from_child_write, 4)

    visit = Visit(url=url)
    with tempfile.TemporaryDirectory(prefix="assay-chromium-") as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=_wire_fds,  # a test helper, single-threaded
        )
        os.close(to_child_read)
        os.close(from_child_write)
        pipe = _Pipe(to_child_write, from_child_read)
        try:
            _drive(pipe, visit, screenshot, evaluate or {}, width, settle)
        finally:
            try:
                pipe.send("Browser.close", timeout=5)
            except Exception:  # the browser may already be gone; it is killed below either way
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(to_child_write)
            os.close(from_child_read)
    return visit


def _drive(pipe: _Pipe, visit: Visit, screenshot: Path | None, evaluate: dict[str, str], width: int, settle: float) -> None:
    target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Network", "Runtime", "Log"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
    pipe.events.clear()  # only what the page under test does counts
    pipe.send("Page.navigate", {"url": visit.url}, session=session)
    if not pipe.wait_for("Page.loadEventFired", timeout=30):
        raise TimeoutError(f"{visit.url} did not finish loading in 30 s")
    pipe.pump(settle)
    for name, expression in evaluate.items():
        result = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating {name}: {result['exceptionDetails'].get('text')}")
        visit.values[name] = result["result"].get("value")
    if screenshot is not None:
        metrics = pipe.send("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        height = min(int(size["height"]) + 1, 16000)
        shot = pipe.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
            session=session,
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        visit.screenshot = screenshot
    pipe.pump(0.2)
    _collect(pipe.events, visit)


def _collect(events: list[dict[str, Any]], visit: Visit) -> None:
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            visit.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            visit.failed_requests.append(f"request {params.get('requestId')} failed: {params.get('errorText')}")
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            visit.console.append((params.get("type", ""), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            visit.exceptions.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            visit.log_entries.append((entry.get("level", ""), f"{entry.get('text', '')} {entry.get('url', '')}".strip()))
        elif method == "Page.javascriptDialogOpening":
            visit.dialogs.append(params.get("message", ""))
