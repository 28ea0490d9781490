"""Debian's Chromium as a plain subprocess: found (or installed with apt) and launched.

No browser is ever downloaded: the test set-up installs Debian's ``chromium`` package
when ``/usr/bin/chromium`` is missing (CI runs as root on a fresh machine), and fails
with a clear message when it cannot. Every flag keeps the browser on this machine:
no QUIC, no background networking, no component updates, no sync.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.debian import CHROMIUM, find_or_install

# The flags every launch uses (checked against Chromium 156): headless without a GPU,
# a fake microphone that plays a WAV file, the permission prompt answered by itself.
_BASE_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
    # WebRTC on loopback only: 127.0.0.1 host candidates (Chromium leaves loopback out
    # unless told), as plain addresses rather than mDNS names (whose lookup is multicast).
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
)


def find_or_install_chromium() -> Path:
    """``/usr/bin/chromium``, installed from Debian's archive when missing."""
    return find_or_install(CHROMIUM)


class Browser:
    """One headless Chromium (its own profile) showing one page; ``kill()`` ends it."""

    def __init__(self, chromium: Path, url: str, profile: Path, *,
                 capture_wav: Path | None = None, deny_microphone: bool = False,
                 extra_flags: tuple[str, ...] = ()) -> None:
        flags = [*_BASE_FLAGS, f"--user-data-dir={profile}",
                 "--use-fake-ui-for-media-stream" + ("=deny" if deny_microphone else "")]
        if capture_wav is not None:
            # %noloop: the file plays once, then the fake microphone is silent.
            flags.append(f"--use-file-for-fake-audio-capture={capture_wav}%noloop")
        self.log_path = profile / "chromium.log"
        profile.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            ["nice", "-n", "5", str(chromium), *flags, *extra_flags, url],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole browser (its process group): the tab dies without a word."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def wait(self, timeout_s: float) -> bool:
        """Whether the browser exited by itself within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return True
            time.sleep(0.1)
        return False

    def log_tail(self, chars: int = 3000) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]
