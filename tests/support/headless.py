"""Headless Chromium driven over the DevTools protocol on a pipe.

The tests start Debian's chromium with --remote-debugging-pipe (commands on
fd 3, replies and events on fd 4, each a JSON object ended by NUL), open one
page, switch its scripts on or off (Emulation.setScriptExecutionDisabled),
wait for it to load, read its DOM and computed styles, and capture a PNG.
A missing chromium fails the test.  Every wait is bounded in time.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

import lbktest

CHROMIUM = os.environ.get("LBK_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-pipe"]


def _high_pipe():
    """A pipe whose ends are above fd 9, so that dup2 onto 3 and 4 in the
    child cannot overwrite one end with the other."""
    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends


class Chromium:
    """One browser with one page; use as a context manager."""

    def __init__(self, width=1400, height=900, timeout=30.0):
        if not os.path.exists(CHROMIUM):
            raise RuntimeError(f"{CHROMIUM} not found (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="lbk-chromium-")
        self.timeout = timeout
        cmd_r, self.cmd_w = _high_pipe()
        self.out_r, out_w = _high_pipe()
        # the browser reads fd 3 and writes fd 4
        self.proc = lbktest.Proc(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(cmd_r, 3), os.dup2(out_w, 4)))
        os.close(cmd_r)
        os.close(out_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", url="about:blank")
        self.session = self.call("Target.attachToTarget",
                                 targetId=target["targetId"],
                                 flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True,
                  width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def _read(self, deadline):
        """One message from the browser, or raise at @deadline."""
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.out_r], [], [], left)
            if ready:
                chunk = os.read(self.out_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, session=False, **params):
        """Sends a command and returns its result; events seen meanwhile
        are kept for wait_event."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        for _ in range(100000):
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)
        raise RuntimeError(f"{method}: no reply")

    def wait_event(self, method, timeout=None):
        """Waits for (and consumes) the next event @method of the page."""
        deadline = time.monotonic() + (timeout or self.timeout)
        for _ in range(100000):
            for i, ev in enumerate(self.events):
                if ev["method"] == method:
                    del self.events[i]
                    return ev.get("params", {})
            self.events.append(self._read(deadline))
        raise RuntimeError(f"no {method}")

    def open(self, url, javascript=True):
        """Navigates the page to @url with scripts on or off; returns once
        its load event fired."""
        self.call("Emulation.setScriptExecutionDisabled", session=True,
                  value=not javascript)
        self.events = [e for e in self.events
                       if e["method"] != "Page.loadEventFired"]
        self.call("Page.navigate", session=True, url=url)
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (DevTools runs it
        even when the page's own scripts are off)."""
        result = self.call("Runtime.evaluate", session=True,
                           expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=10.0, step=0.1):
        """Polls @expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(step)
        raise TimeoutError(f"{expression} stayed {value!r} for {timeout} s")

    def screenshot(self, path, full_page=True):
        """Saves the page as PNG; returns the decoded image."""
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics", session=True)
            content = size["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": content["width"],
                              "height": content["height"], "scale": 1}
        data = base64.b64decode(
            self.call("Page.captureScreenshot", session=True,
                      **params)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return Png(data)

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        self.proc.stop()
        os.close(self.cmd_w)
        os.close(self.out_r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Png:
    """An 8-bit RGB or RGBA, non-interlaced PNG decoded into rows of pixels
    (what Chromium writes)."""

    def __init__(self, data):
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError("not a PNG")
        pos, idat = 8, b""
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            if kind == b"IHDR":
                (self.width, self.height, depth, color, _, _,
                 interlace) = struct.unpack(">IIBBBBB", body)
                if depth != 8 or color not in (2, 6) or interlace:
                    raise ValueError("unsupported PNG")
                self.channels = 3 if color == 2 else 4
            elif kind == b"IDAT":
                idat += body
            pos += 12 + length
        raw = zlib.decompress(idat)
        stride = self.width * self.channels
        bpp = self.channels
        prev = bytearray(stride)
        self.rows = []
        for y in range(self.height):
            start = y * (stride + 1)
            ftype = raw[start]
            line = bytearray(raw[start + 1:start + 1 + stride])
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                if ftype == 1:
                    line[x] = (line[x] + a) & 255
                elif ftype == 2:
                    line[x] = (line[x] + b) & 255
                elif ftype == 3:
                    line[x] = (line[x] + (a + b) // 2) & 255
                elif ftype == 4:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    line[x] = (line[x] + pred) & 255
            self.rows.append(bytes(line))
            prev = line

    def count(self, rgb):
        """How many pixels have exactly the colour @rgb (r, g, b)."""
        n = 0
        want = bytes(rgb)
        for row in self.rows:
            for x in range(0, len(row), self.channels):
                if row[x:x + 3] == want:
                    n += 1
        return n
