"""A server that accepts and never answers: TCP and UDP on 127.0.0.1, for a run that hangs.

Run inside an empty network namespace (loopback only) to keep probes busy until their
deadline, so a test can press Ctrl-C in the middle of a run::

    python -m tests.silent_server READY_FILE PORT...

Each PORT is listened on for TCP and bound for UDP; READY_FILE is created once all are.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path


def main(ready: str, ports: list[int]) -> None:
    sockets = []
    for port in ports:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", port))
        tcp.listen(128)  # the kernel completes handshakes; nothing is ever read or sent
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        sockets += [tcp, udp]
    Path(ready).touch()
    time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1], [int(p) for p in sys.argv[2:]])
