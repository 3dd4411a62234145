"""A real terminal of a given size: jmo-doctor under tmux, its screen read back.

Used by ``tests/test_pty.py`` (what a person sees on a 40-column phone) and to make the
README's screenshots::

    python -m tests.screens docs/

which runs ``jmo-doctor run`` in an empty network namespace (so nothing leaves the
machine; the verdict is "offline") in a 40-column tmux, captures the screen with its
colours, renders it with rich to SVG and has chromium (in an empty namespace too) turn
the SVG into ``docs/screen-40col-{id,en}.png`` and ``docs/screen-40col-short-id.png``.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

CLI = Path(sys.executable).parent / "jmo-doctor"
_sessions = itertools.count()


def missing_tools() -> str | None:
    """Why a terminal cannot be had here, or None."""
    for tool in ("tmux", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"no user and network namespaces: {probe.stderr.strip()}"
    return None


class Screen:
    """One tmux server (its own socket) with one pane of ``width`` x ``height``."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.socket = f"jmo-doctor-{os.getpid()}-{next(_sessions)}"

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout

    def __enter__(self) -> Screen:
        size = ["-x", str(self.width), "-y", str(self.height)]
        self.tmux("new-session", "-d", *size, "-s", "main")
        self.tmux("set-option", "-t", "main", "remain-on-exit", "on")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.tmux("kill-server")

    def run(self, command: str) -> None:
        """Start ``command`` (a shell line) in the pane, replacing the shell there."""
        self.tmux("respawn-pane", "-k", "-t", "main", command)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "main", *keys)

    def dead(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "main", "#{pane_dead}").strip() == "1"

    def wait(self, until: str = "", timeout: float = 60.0) -> None:
        """Until the command ended (or ``until`` shows on the screen)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (until and until in self.screen()) or (not until and self.dead()):
                return
            time.sleep(0.1)
        raise TimeoutError(f"the terminal did not show {until or 'the end'}:\n{self.screen()}")

    def screen(self, *, ansi: bool = False) -> str:
        """Everything printed, scrolled-off lines too; wrapped lines are joined (-J), so a
        line wider than the terminal shows as one long line."""
        flags = ["-p", "-J", "-S", "-", *(["-e"] if ansi else [])]
        shown = self.tmux("capture-pane", *flags, "-t", "main")
        lines = [line for line in shown.splitlines() if not line.startswith("Pane is dead")]
        return "\n".join(lines).rstrip() + "\n"


def offline_command(home: Path, *args: str) -> str:
    """``jmo-doctor ARGS`` in an empty network namespace, with a fresh home, no COLUMNS:
    the width comes from the terminal."""
    env = {
        "HOME": str(home),
        "JMO_DOCTOR_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PATH": "/usr/bin:/bin",
        "TERM": "tmux-256color",
    }
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    argv = " ".join(shlex.quote(a) for a in (str(CLI), *args))
    return f"env -i {assignments} unshare -rn {argv}"


def capture(width: int, home: Path, *args: str) -> str:
    """The screen, with colours, of ``jmo-doctor ARGS`` offline in a terminal this wide."""
    with Screen(width, 200) as terminal:
        terminal.run(offline_command(home, *args))
        terminal.wait(timeout=90)
        return terminal.screen(ansi=True)


def to_png(ansi: str, width: int, title: str, target: Path) -> None:
    """Render captured terminal text to a PNG: rich's SVG, screenshotted by chromium."""
    from rich.console import Console
    from rich.text import Text

    with open(os.devnull, "w") as nowhere:
        console = Console(record=True, width=width, force_terminal=True, file=nowhere)
        console.print(Text.from_ansi(ansi))
        svg = console.export_svg(title=title)
    rows = ansi.count("\n") + 1
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "screen.svg"
        page.write_text(svg, encoding="utf-8")
        size = f"{int(width * 12.2 + 40)},{int(rows * 24.4 + 80)}"
        argv = ["unshare", "-rn", "chromium", "--headless", "--no-sandbox", "--disable-gpu"]
        argv += ["--hide-scrollbars", f"--window-size={size}", f"--screenshot={target}"]
        subprocess.run([*argv, page.as_uri()], check=True, capture_output=True, timeout=120)


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        for name, lang, extra in (
            ("screen-40col-id.png", "id", ()),
            ("screen-40col-en.png", "en", ()),
            ("screen-40col-short-id.png", "id", ("--short",)),
        ):
            ansi = capture(40, home, "run", "--lang", lang, "--timeout", "5", *extra)
            to_png(ansi, 40, f"jmo-doctor run --lang {lang} {' '.join(extra)}".strip(), out / name)
            print(out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
