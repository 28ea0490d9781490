"""Debian's programs the tests talk to: found, or installed with apt when missing.

``chromium`` (the browser calls), ``baresip`` (package ``baresip-core``), ``sipp``
(``sip-tester``) and ``janus`` are real third-party peers. Nothing is downloaded from
anywhere but Debian's archive, and only when the binary is missing and we run as root
(CI on a fresh machine); otherwise the error says what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = (Path("/usr/bin/chromium"), "chromium")
BARESIP = (Path("/usr/bin/baresip"), "baresip-core")
SIPP = (Path("/usr/bin/sipp"), "sip-tester")
JANUS = (Path("/usr/bin/janus"), "janus")


def find_or_install(tool: tuple[Path, str]) -> Path:
    """The tool's binary, ``apt-get install``-ed from its Debian package when missing."""
    binary, package = tool
    if binary.exists():
        return binary
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise RuntimeError(
            f"{binary} is missing and cannot be installed here (needs apt-get as root): "
            f"install Debian's {package} package (apt-get install {package})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update", "-q"],
                [apt, "install", "-y", "-q", "--no-install-recommends", package]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n"
                               f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if not binary.exists():
        raise RuntimeError(f"apt-get installed {package} but {binary} is still missing")
    return binary


def find_or_install_baresip() -> Path:
    return find_or_install(BARESIP)


def find_or_install_sipp() -> Path:
    return find_or_install(SIPP)


def find_or_install_janus() -> Path:
    return find_or_install(JANUS)
