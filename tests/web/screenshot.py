"""Take ``docs/web-call.png``: the page mid-call, headless Chromium against ``voxpipe
serve`` (echo agent), captured over the DevTools protocol once the agent is speaking.

    PYTHONPATH=$PWD python -m tests.web.screenshot docs/web-call.png [--at 12]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from tests.web.chromium import Browser, find_or_install_chromium
from tests.web.conftest import ECHO_AGENT
from tests.web.serve_process import ServeProcess
from tests.web.speech import compose


def _devtools_port(profile: Path, timeout_s: float = 30) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while not marker.exists() or not marker.read_text().strip():
        if time.monotonic() > deadline:
            raise RuntimeError("Chromium did not open its DevTools port")
        time.sleep(0.1)
    return int(marker.read_text().split()[0])


async def _capture(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
        pages = [t for t in json.loads(reply.read()) if t["type"] == "page"]
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
        await ws.send_json({"id": 1, "method": "Page.captureScreenshot",
                            "params": {"format": "png"}})
        async for message in ws:
            data = json.loads(message.data)
            if data.get("id") == 1:
                return base64.b64decode(data["result"]["data"])
    raise RuntimeError("no screenshot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--at", type=float, default=12.0, help="seconds into the call")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="voxpipe-shot-"))
    (tmp / "record").mkdir()
    server = ServeProcess(tmp / "record", "--agent", str(ECHO_AGENT), log_path=tmp / "serve.log")
    server.warm_up()
    speech = compose([(1, 3.0), (0, 9.0)], 30.0)  # the second turn's echo plays at ~12 s
    profile = tmp / "profile"
    browser = Browser(find_or_install_chromium(), f"{server.origin}/?autostart=1&test=1",
                      profile, capture_wav=speech.write(tmp / "speech.wav"),
                      extra_flags=("--remote-debugging-port=0", "--window-size=1000,800",
                                   "--hide-scrollbars"))
    try:
        port = _devtools_port(profile)
        time.sleep(args.at)
        args.out.write_bytes(asyncio.run(_capture(port)))
        print(f"wrote {args.out}")
    finally:
        browser.kill()
        server.stop()


if __name__ == "__main__":
    main()
