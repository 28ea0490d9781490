"""Debian's baresip as a headless caller: plays a WAV, records what it hears.

A config directory of its own (nothing read from ``~/.baresip``): SIP and RTP on
127.0.0.1 only, no STUN/ICE/registration, G.711 only, ``aufile`` as the microphone
(the call hangs up when the file ends), ``sndfile`` dumping what the call decodes
(``dump-*-dec.wav``, 8 kHz) and what it encodes; the speaker is an ``aubridge``
device nobody reads (baresip 1.0 has no file player).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

CONFIG = """\
poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{sip_port}
sip_transports\t\tudp
audio_player\t\taubridge,nowhere
audio_alert\t\taubridge,nowhere
audio_source\t\taufile,{wav}
ausrc_srate\t\t8000
auplay_srate\t\t8000
ausrc_channels\t\t1
auplay_channels\t\t1
rtp_ports\t\t{rtp_low}-{rtp_high}
net_interface\t\t127.0.0.1
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taccount.so
module\t\t\taufile.so
module\t\t\taubridge.so
module\t\t\tsndfile.so
module_app\t\tmenu.so
snd_path\t\t{snd}
"""


@dataclass
class BaresipCall:
    returncode: int
    log: str
    heard: Path | None  # what baresip decoded (8 kHz mono), None if no call was set up
    said: Path | None  # what it encoded and sent


def place_call(baresip: Path, wav: Path, uri: str, workdir: Path, *, sip_port: int,
               rtp_ports: tuple[int, int], timeout_s: float) -> BaresipCall:
    """Dial ``uri`` playing ``wav`` (8 kHz mono s16), until the file ends (baresip hangs
    up) or ``timeout_s`` (baresip quits)."""
    snd = workdir / "snd"
    snd.mkdir(parents=True, exist_ok=True)
    (workdir / "config").write_text(CONFIG.format(
        sip_port=sip_port, wav=wav, rtp_low=rtp_ports[0], rtp_high=rtp_ports[1], snd=snd))
    (workdir / "accounts").write_text("<sip:caller@127.0.0.1>;regint=0\n")
    cmd = ["nice", "-n", "5", str(baresip), "-f", str(workdir), "-e", f"/dial {uri}",
           "-t", str(int(timeout_s))]
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                          timeout=timeout_s + 30, check=False)
    dumps = {kind: sorted(snd.glob(f"dump-*-{kind}.wav")) for kind in ("dec", "enc")}
    return BaresipCall(done.returncode, done.stdout[-6000:] + done.stderr[-3000:],
                       dumps["dec"][-1] if dumps["dec"] else None,
                       dumps["enc"][-1] if dumps["enc"] else None)
