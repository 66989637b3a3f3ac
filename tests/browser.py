"""Open a local HTML page in headless Chromium over the DevTools protocol: console errors, images, screenshot.

Also a script: ``python tests/browser.py reports/index.html docs/report.png`` writes the README screenshot.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu-sandbox", "--use-angle=swiftshader",
                  "--enable-unsafe-swiftshader", "--no-first-run", "--no-default-browser-check",
                  "--disable-extensions", "--mute-audio", "--hide-scrollbars")
# True once every image has decoded and every 3D viewer has settled (data-state set by the viewer bundle).
SETTLED = ("Array.from(document.images).every(i => i.complete)"
           " && document.querySelectorAll('.splat-viewer:not([data-state])').length === 0")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageCheck:
    errors: list[str] = field(default_factory=list)   # console errors, uncaught exceptions, failed loads
    broken_images: list[str] = field(default_factory=list)
    viewer_states: list[str] = field(default_factory=list)
    settled: bool = False


class _DevTools:
    def __init__(self, url: str):
        from websockets.sync.client import connect

        self.socket = connect(url, max_size=None, open_timeout=20)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 90, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def _errors(events: list[dict]) -> list[str]:
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            out.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            out.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
    return out


def check_page(page: Path, screenshot: Path, width: int = 1280, height: int = 1600, timeout: float = 120,
               viewer_shots: Path | None = None) -> PageCheck:
    """Load ``page`` (file://), wait until its images and 3D viewers settle, write a ``width``×``height``
    PNG of the top of the page to ``screenshot`` (and of each 3D viewer to ``viewer_shots/viewer-<i>.png``),
    and return what went wrong."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (make setup installs it)")
    with tempfile.TemporaryDirectory(prefix="obscura-chromium-") as profile:
        process = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                    f"--window-size={width},{height}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = _devtools_port(process, Path(profile))
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            tools = _DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
            for domain in ("Runtime", "Log", "Page"):
                tools.call(f"{domain}.enable")
            tools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                       mobile=False)
            tools.call("Page.navigate", url=Path(page).resolve().as_uri())
            check = PageCheck()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if tools.evaluate(f"document.readyState === 'complete' && {SETTLED}"):
                    check.settled = True
                    break
                time.sleep(0.25)
            time.sleep(1.0)   # a few animation frames for the viewers to draw
            check.broken_images = tools.evaluate(
                "Array.from(document.images).filter(i => !i.naturalWidth).map(i => i.getAttribute('src'))") or []
            check.viewer_states = tools.evaluate(
                "Array.from(document.querySelectorAll('.splat-viewer')).map(e => e.dataset.state || 'pending')") or []
            # the full report's first frame with its 3DGS viewers took 156 s in SwiftShader on 2 cores
            shot = tools.call("Page.captureScreenshot", timeout=300, format="png")
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            for i in range(len(check.viewer_states) if viewer_shots is not None else 0):
                rect = tools.evaluate(f"(() => {{ const e = document.querySelectorAll('.splat-viewer')[{i}]; "
                                      "e.scrollIntoView(); const r = e.getBoundingClientRect(); "
                                      "return [r.x + scrollX, r.y + scrollY, r.width, r.height]; })()")
                time.sleep(1.0)
                clip = dict(zip(("x", "y", "width", "height"), rect), scale=1)
                shot = tools.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
                (Path(viewer_shots) / f"viewer-{i}.png").write_bytes(base64.b64decode(shot["data"]))
            check.errors = _errors(tools.events)
            tools.socket.close()
            return check
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _devtools_port(process: subprocess.Popen, profile: Path, timeout: float = 90) -> int:
    """The port Chromium chose, from the ``DevToolsActivePort`` file it writes into its profile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        lines = (profile / "DevToolsActivePort").read_text().split() if (profile / "DevToolsActivePort").is_file() else []
        if lines:
            return int(lines[0])
        time.sleep(0.1)
    raise RuntimeError(f"chromium did not start its DevTools endpoint (exit status {process.poll()})")


if __name__ == "__main__":
    result = check_page(Path(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps(result.__dict__, indent=1))
    failed = (result.errors or result.broken_images or not result.settled
              or any(state != "ready" for state in result.viewer_states))
    sys.exit(1 if failed else 0)
