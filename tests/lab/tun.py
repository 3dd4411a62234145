"""Opening TUN devices (Linux ``/dev/net/tun``), shared by the relay and the VPN stand-in."""

from __future__ import annotations

import fcntl
import os
import struct

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name: str) -> int:
    """A non-blocking fd carrying raw IP packets of TUN device ``name`` in our namespace.

    Attaches to the device if it exists (made persistent by ``ip tuntap add``), creates a
    transient one otherwise (gone when the fd closes).
    """
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd
