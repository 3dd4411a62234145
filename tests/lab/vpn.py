"""A stand-in VPN client: holds a TUN device open in the phone namespace (so it has a
carrier, like a connected VPN) and swallows whatever is routed into it — traffic sent
"through the VPN" goes nowhere, as when the VPN's far end is broken or blocks BPJS."""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys

from . import serve
from .tun import open_tun


def run(name: str) -> None:
    fd = open_tun(name)
    serve.say("ready")
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd, stdin], [], [])
        if fd in ready:
            try:
                while os.read(fd, 65536):
                    pass
            except BlockingIOError:
                pass
        if stdin in ready and not os.read(stdin, 4096):
            return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="jmo-doctor lab VPN stand-in")
    parser.add_argument("name")
    serve.setup_logging("vpn")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run(parser.parse_args().name)
