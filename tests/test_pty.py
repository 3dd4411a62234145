"""The real CLI in a real 40-column terminal (tmux): what a person on a phone sees.

Every run is in an empty network namespace (``unshare -rn``): nothing leaves the
machine; with no network at all the verdict is "offline". The width comes from the
terminal itself (COLUMNS is not set), and the screen is read back with tmux, wrapped
lines joined, so a line wider than the terminal would show as one long line.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import verdict_of
from tests.screens import Screen, missing_tools, offline_command

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=missing_tools() or "")


@pytest.mark.parametrize(
    ("lang", "verdict"), [("id", "Kesimpulan: KRITIS"), ("en", "Verdict: CRITICAL")]
)
def test_the_report_fits_40_columns_and_the_verdict_is_last(
    tmp_path: Path, lang: str, verdict: str
) -> None:
    with Screen(40, 50) as terminal:
        terminal.run(offline_command(tmp_path, "run", "--lang", lang, "--timeout", "5"))
        terminal.wait(timeout=90)
        shown = terminal.screen()
    lines = shown.rstrip().splitlines()
    assert all(len(line) <= 40 for line in lines), max(lines, key=len)
    assert lines[0].startswith("jmo-doctor ")  # the live progress left nothing behind
    said = verdict_of(shown)
    assert said.startswith(verdict) and said.endswith(" 2)"), shown


def test_short_is_one_screen_with_the_verdict_last(tmp_path: Path) -> None:
    with Screen(40, 30) as terminal:
        terminal.run(offline_command(tmp_path, "run", "--short", "--timeout", "5"))
        terminal.wait(timeout=90)
        shown = terminal.screen()
    lines = shown.rstrip().splitlines()
    assert len(lines) <= 24 and all(len(line) <= 40 for line in lines), shown
    assert lines[0].startswith("Perangkat ini tidak tersambung")  # the cause's summary
    assert verdict_of(shown).startswith("Kesimpulan: KRITIS — Tidak ada koneksi internet")


def _hanging_run(home: Path) -> str:
    """A shell line: loopback up, a server that never answers, a run against it."""
    config = home / "hang.toml"
    port = 8443
    url = f"127.0.0.1:{port}"
    config.write_text(
        "timeout = 20.0\n"
        f'[[target]]\nname = "bpjs-www"\nhost = "127.0.0.1"\nport = {port}\n'
        f'url = "https://{url}/"\nrole = "bpjs"\n'
        f'[dns]\ntrusted_resolvers = ["{url}"]\ndoh = []\n'
        f'[captive_portal]\nurl = "http://{url}/generate_204"\n'
        f'[app]\nplay_store_url = "http://{url}/s"\napp_store_lookup_url = "http://{url}/l"\n'
    )
    ready = home / "ready"
    server = f"{shlex.quote(sys.executable)} -m tests.silent_server {ready} {port}"
    cli = offline_command(home, "run", "--config", str(config), "--lang", "en")
    cli = cli.replace(" unshare -rn ", " ")  # already inside the namespace
    script = home / "hang.sh"
    script.write_text(
        "ip link set lo up\n"
        f"cd {shlex.quote(str(Path(__file__).parent.parent))}\n"
        f"{server} &\nserver=$!\n"
        f"while [ ! -e {ready} ]; do sleep 0.05; done\n"
        "trap : INT\n"  # the script outlives Ctrl-C; jmo-doctor gets the default
        f'{cli}\necho "exit=$?"\nkill $server\n'
        "stty -a | grep -o -- '-\\?echo ' | head -1\n"
    )
    return f"unshare -rn sh {script}"


def test_ctrl_c_leaves_no_progress_row_and_the_echo_back_on(tmp_path: Path) -> None:
    with Screen(40, 60) as terminal:
        terminal.run(_hanging_run(tmp_path))
        terminal.wait(until="0.5 s", timeout=60)  # the live display's clock is running
        terminal.keys("C-c")
        terminal.wait(until="exit=", timeout=60)
        terminal.wait(timeout=30)
        shown = terminal.screen()
    lines = shown.rstrip().splitlines()
    assert lines[0].startswith("jmo-doctor "), shown  # no stale row of the live display
    assert "Stopped by SIGINT" in shown
    assert lines[-1] == "echo", shown  # the terminal echoes again (not "-echo")
    assert "exit=" in lines[-2]
    assert all(len(line) <= 40 for line in lines), max(lines, key=len)


def test_ctrl_c_ends_a_watch_with_the_last_verdict(tmp_path: Path) -> None:
    # offline for good: the watch goes on until Ctrl-C, then shows the last run's verdict
    command = offline_command(tmp_path, "run", "--watch", "3", "--timeout", "3", "--lang", "en")
    with Screen(40, 60) as terminal:
        terminal.run(f"sh -c {shlex.quote('trap : INT; ' + command + '; echo exit=$?')}")
        terminal.wait(until="+ No internet connection", timeout=60)
        terminal.keys("C-c")
        terminal.wait(until="exit=", timeout=60)
        shown = terminal.screen()
    lines = shown.rstrip().splitlines()
    assert "Watch stopped." in lines, shown
    assert lines[-1] == "exit=2", shown  # the last run's exit code, not "interrupted"
    assert verdict_of("\n".join(lines[:-1])).startswith("Verdict: CRITICAL — No internet")
    assert all(len(line) <= 40 for line in lines), max(lines, key=len)


@pytest.mark.parametrize(
    ("env", "styled"),
    [({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False), ({}, False)],
)
def test_force_color_styles_a_pipe_and_no_color_wins(
    tmp_path: Path, env: dict[str, str], styled: bool
) -> None:
    command = offline_command(tmp_path, "run", "--short", "--timeout", "5")
    assignments = " ".join(f"{k}={v}" for k, v in env.items())
    command = command.replace("env -i ", f"env -i {assignments} ", 1)
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=90)
    assert done.returncode == 2, done.stderr
    assert ("\x1b[" in done.stdout) is styled, done.stdout
    plain = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    assert verdict_of(plain).endswith("(kode keluar 2)"), plain
