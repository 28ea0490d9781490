"""Debian's Janus (``tests/debian.py`` finds or installs it) as a subprocess
configured to stay on this machine.

Every configuration file is generated in a temporary directory (``-F``/``-C``): the
only transport is plain HTTP on 127.0.0.1 at a free port (no admin API, no
websockets/pfunix/MQTT/...), the only plugin is the AudioBridge (its plain-RTP
participants bound on 127.0.0.1), no event handlers or loggers, and no STUN/TURN
server: ICE gathering is limited to loopback (the tests' participants are plain RTP,
so no ICE ever runs). The plugin and transport folders hold symlinks to just those
two libraries, so nothing else is even loaded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

LIBDIR = Path("/usr/lib/x86_64-linux-gnu/janus")
READY_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _link_only(folder: Path, source: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).symlink_to(source / name)
    return folder


def write_config(root: Path, http_port: int) -> Path:
    """The config folder of a loopback-only Janus with HTTP + AudioBridge only."""
    conf = root / "conf"
    conf.mkdir(parents=True)
    plugins = _link_only(root / "plugins", LIBDIR / "plugins", "libjanus_audiobridge.so")
    transports = _link_only(root / "transports", LIBDIR / "transports", "libjanus_http.so")
    empty = root / "empty"
    empty.mkdir()
    (conf / "janus.jcfg").write_text(f"""general: {{
    configs_folder = "{conf}"
    plugins_folder = "{plugins}"
    transports_folder = "{transports}"
    events_folder = "{empty}"
    loggers_folder = "{empty}"
    debug_level = 4
    interface = "127.0.0.1"
    session_timeout = 60
    hide_dependencies = true
}}
media: {{
    rtp_port_range = "20000-40000"
}}
nat: {{
    nice_debug = false
    ignore_mdns = true
    ice_enforce_list = "127.0.0.1"
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
    broadcast = false
}}
""")
    (conf / "janus.transport.http.jcfg").write_text(f"""general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
cors: {{
}}
""")
    (conf / "janus.plugin.audiobridge.jcfg").write_text("""general: {
    local_ip = "127.0.0.1"
    rtp_port_range = "40000-60000"
    events = false
}
""")
    return conf


class JanusServer:
    """One Janus process on loopback; ``url`` is its HTTP API (``/janus``)."""

    def __init__(self, janus: Path, root: Path) -> None:
        self.port = free_port()
        conf = write_config(root, self.port)
        self.url = f"http://127.0.0.1:{self.port}/janus"
        self.log_path = root / "janus.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(janus), "-F", str(conf), "-C", str(conf / "janus.jcfg"), "--disable-colors"],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"janus exited ({self.proc.returncode}):\n{self.log()}")
            with contextlib.suppress(OSError, urllib.error.URLError), \
                    urllib.request.urlopen(f"{self.url}/info", timeout=1) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"janus did not answer on {self.url}:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()
