#!/usr/bin/env python3
"""Drives Overlook's page in headless Chromium and waits for its title (issue 17).

    python3 web/drive.py URL --until 'overlook: objects_settled' [--also 'overlook: PHASE' ...]
        [--screenshot page.png] [--timeout 300] [--width 1280 --height 720] [--log page.log]
        [--webgpu]

The page's title names the latest phase of the connection story reached (`overlook: <phase>`)
or a failure (`overlook: error: <why>`), and its root element's `data-overlook-phases` lists every
phase reached. This launches Debian's `chromium` headless (SwiftShader renders WebGL2; nothing is
downloaded), opens URL over the DevTools protocol, prints each new title with its time since
navigation, and ends:

- 0 once the title is --until (or starts with it), or --until names a phase (`overlook:
  <phase>`) the page has reached (titles are polled every 100 ms: phases a frame apart show only
  as the later one), and each --also was seen by then (as a title or a phase reached);
  --screenshot then saves a PNG of the page (it does on a failure too);
- 1 on `overlook: error: …`, an --also never seen, a page that cannot be loaded, or when
  --timeout passes (the page's last console lines are printed, and all of them go to --log);
- 2 when Chromium cannot be started (or on bad arguments).

The last line printed is JSON: {"ok": …, "titles": [[seconds, title], …], "screenshot": …}.
Python's standard library only (a minimal WebSocket client for the DevTools protocol).
"""

import argparse
import atexit
import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

PREFIX = "overlook: "
# What the page says: its title, a newline, and the phases it reached.
PAGE_STATE = "document.title + '\\n' + (document.documentElement.dataset.overlookPhases || '')"
WEBGL_FLAGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader"]


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, masked from us."""

    def __init__(self, url):
        assert url.startswith("ws://"), url
        host_port, _, path = url[len("ws://"):].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("the DevTools socket closed during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"no WebSocket upgrade: {head[:200]!r}")

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the DevTools socket closed")
            data += chunk
        return data

    def _frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text):
        self._frame(0x1, text.encode())

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else None
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("the DevTools socket was closed")
            if opcode == 0x9:
                self._frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode("utf-8", "replace")


def _die_with_parent():
    """In Chromium's first process: SIGKILL when the driver dies, even of SIGKILL (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def console_text(args):
    """A console call's text: `%c` (CSS styling, as in Bevy's log lines) consumes an argument."""
    values = [str(a.get("value", a.get("description", ""))) for a in args]
    if values and "%c" in values[0]:
        styles = values[0].count("%c")
        values = [values[0].replace("%c", "")] + values[1 + styles:]
    return " ".join(values)


class Browser:
    def __init__(self, width, height, webgpu):
        if not shutil.which("chromium"):
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="overlook-chromium-")
        flags = WEBGL_FLAGS + (WEBGPU_FLAGS if webgpu else [])
        self.process = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "--no-first-run", "--no-default-browser-check", *flags, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_die_with_parent)
        atexit.register(self.close)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        port = None
        while time.time() < deadline and port is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            try:
                port = open(port_file).read().split()[0]
            except (OSError, IndexError):
                time.sleep(0.1)
        if port is None:
            raise RuntimeError("chromium opened no DevTools port within 30 s")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.console = []

    def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message):
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.console.append(f"console.{params.get('type')}: " + console_text(params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.console.append(f"exception: {text}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append(f"log.{entry.get('level')}: {entry.get('text')}")

    def close(self):
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def reached(title, phases, until):
    """Whether the page is where `until` says: its title (or its start), or a phase reached."""
    if title == until or title.startswith(until):
        return True
    return until.startswith(PREFIX) and until[len(PREFIX):] in phases.split()


# Keys --hold knows: DOM `key`/`code` and the virtual key code.
KEYS = {"ArrowUp": 38, "ArrowDown": 40, "ArrowLeft": 37, "ArrowRight": 39,
        "KeyW": 87, "KeyA": 65, "KeyS": 83, "KeyD": 68}


def hold_key(browser, width, height, key, seconds):
    """Clicks into the 3D view (the canvas takes focus) and holds `key` for `seconds`, as a
    keyboard does: a first press, then repeats every 100 ms, then the release."""
    x, y = width // 4, height // 4
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
    code = KEYS[key]
    name = key[3:].lower() if key.startswith("Key") else key
    event = dict(key=name, code=key, windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)
    end = time.time() + seconds
    repeat = False
    while time.time() < end:
        browser.call("Input.dispatchKeyEvent", type="rawKeyDown", autoRepeat=repeat, **event)
        repeat = True
        time.sleep(0.1)
    browser.call("Input.dispatchKeyEvent", type="keyUp", **event)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--until", default="overlook: objects_settled")
    parser.add_argument("--also", action="append", default=[], metavar="TITLE",
                        help="a title (or phase) that must have been seen before --until; repeatable")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--screenshot")
    parser.add_argument("--hold", metavar="KEY:SECONDS",
                        help="once there, hold a key in the 3D view (e.g. ArrowUp:3: walk) and "
                             "wait 1.5 s before the screenshot")
    parser.add_argument("--screenshot-before", metavar="PNG",
                        help="with --hold: the page before the key was held")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--log")
    parser.add_argument("--webgpu", action="store_true", help="also enable WebGPU (SwiftShader)")
    args = parser.parse_args()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(1))
    try:
        browser = Browser(args.width, args.height, args.webgpu)
    except (OSError, RuntimeError, StopIteration) as e:
        print(f"drive.py: cannot start chromium: {e}", file=sys.stderr)
        return 2
    titles, ok, shot = [], False, None
    seen = set()  # titles and `overlook: <phase>`s seen, for --also
    try:
        browser.call("Runtime.enable")
        browser.call("Log.enable")
        browser.call("Page.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=args.width, height=args.height,
                     deviceScaleFactor=1, mobile=False)
        t0 = time.time()
        navigated = browser.call("Page.navigate", url=args.url)
        if navigated.get("errorText"):
            raise RuntimeError(f"cannot load {args.url}: {navigated['errorText']}")
        last, why = None, None
        while time.time() - t0 < args.timeout:
            try:
                state = browser.call("Runtime.evaluate", expression=PAGE_STATE)
            except RuntimeError:
                # E.g. the execution context went away while the page was being replaced.
                time.sleep(0.1)
                continue
            title, _, phases = state.get("result", {}).get("value", "").partition("\n")
            # Until the page commits, the title is about:blank's (empty): not worth a line.
            if title != last and (title or last is not None):
                elapsed = time.time() - t0
                titles.append([round(elapsed, 2), title])
                print(f"{elapsed:7.2f} s  {title}", flush=True)
                last = title
            seen.add(title)
            seen.update(PREFIX + p for p in phases.split())
            if reached(title, phases, args.until):
                missing = [a for a in args.also if a not in seen
                           and not any(t.startswith(a) for t in seen)]
                if missing:
                    why = f"the title reached {args.until!r} without ever showing {missing}"
                else:
                    ok = True
                break
            if title.startswith("overlook: error:"):
                break
            time.sleep(0.1)
        else:
            why = f"timed out after {args.timeout:.0f} s; the title was {last!r}"
        if why:
            print(why, flush=True)
        if ok and args.hold:
            if args.screenshot_before:
                data = browser.call("Page.captureScreenshot", format="png")["data"]
                with open(args.screenshot_before, "wb") as f:
                    f.write(base64.b64decode(data))
            key, _, seconds = args.hold.partition(":")
            hold_key(browser, args.width, args.height, key, float(seconds or 2))
            time.sleep(1.5)
        if args.screenshot:
            data = browser.call("Page.captureScreenshot", format="png")["data"]
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(data))
            shot = args.screenshot
    except (OSError, RuntimeError) as e:
        # Chromium died, the DevTools socket failed, or the page could not be loaded.
        print(f"drive.py: {e}", flush=True)
        ok = False
    finally:
        if args.log:
            with open(args.log, "w") as f:
                f.write("\n".join(browser.console) + "\n")
        if not ok and browser.console:
            print("the page's last console lines:", file=sys.stderr)
            for line in browser.console[-40:]:
                print("  " + line[:400], file=sys.stderr)
        browser.close()
    print(json.dumps({"ok": ok, "titles": titles, "screenshot": shot}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
