"""An empty network namespace (loopback only), for running the real CLI offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def namespaces_unavailable() -> str | None:
    """Why namespaces can't be made here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    return None


@contextmanager
def empty_namespace() -> Iterator[str]:
    reason = namespaces_unavailable()
    if reason:
        pytest.skip(reason)
    name = f"jmo-empty-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
