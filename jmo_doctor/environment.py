"""What the report says about the machine it ran on (without identifying the person)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from typing import Any


def is_termux(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether we run in Termux (or on Android under another Python)."""
    env = os.environ if environ is None else environ
    return (
        "TERMUX_VERSION" in env
        or "com.termux" in env.get("PREFIX", "")
        or (sys.platform if platform is None else platform) == "android"
    )


def platform_name(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str:
    """One of the report's platforms: linux | android-termux | macos | windows."""
    platform = sys.platform if platform is None else platform
    if is_termux(environ, platform):
        return "android-termux"
    if platform == "darwin":
        return "macos"
    if platform.startswith(("win", "cygwin")):
        return "windows"
    return "linux"


def describe() -> dict[str, Any]:
    return {
        "platform": platform_name(),
        "os": f"{platform.system()} {platform.release()}".strip(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "termux_version": os.environ.get("TERMUX_VERSION", ""),
    }
