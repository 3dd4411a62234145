"""`jmo-doctor shortcut install|remove`: the Termux:Widget button, and what it never touches."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jmo_doctor.cli import run_cli
from jmo_doctor.commands.shortcut import MARKER, NAME

CLI = Path(sys.executable).parent / "jmo-doctor"


def _script(home: Path) -> Path:
    return home / ".shortcuts" / NAME


def test_install_writes_a_private_script_that_runs_the_short_check(
    isolated_cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = isolated_cli.parent
    assert run_cli(["shortcut", "install", "--lang", "en"]) == 0
    script = _script(home)
    assert stat.S_IMODE(script.stat().st_mode) == 0o700
    assert stat.S_IMODE(script.parent.stat().st_mode) == 0o700
    lines = script.read_text().splitlines()
    assert lines[0].startswith("#!/") and lines[1] == MARKER
    assert " run --short --lang en" in lines[3]
    assert lines[-1] == "read -r _"  # the result stays on the screen
    assert "Button installed" in capsys.readouterr().err


def test_the_script_runs_jmo_doctor_and_waits_for_enter(tmp_path: Path) -> None:
    # the real console script writes it, the real sh runs it: in an empty network
    # namespace, so the check finds no network and exits with what the button shows
    env = {**os.environ, "HOME": str(tmp_path), "JMO_DOCTOR_HOME": str(tmp_path / "d")}
    env.update(NO_COLOR="1", COLUMNS="40", XDG_CONFIG_HOME=str(tmp_path / "c"))
    subprocess.run([str(CLI), "shortcut", "install"], env=env, check=True, capture_output=True)
    script = _script(tmp_path)
    assert str(CLI) in script.read_text()  # by absolute path: the widget has no venv
    argv = ["unshare", "-rn", str(script)]
    try:
        shown = subprocess.run(
            argv, env=env, input="\n", capture_output=True, text=True, timeout=90
        )
    except FileNotFoundError:
        pytest.skip("unshare is not installed")
    if "unshare" in shown.stderr and shown.returncode != 0:
        pytest.skip(f"no user namespaces here: {shown.stderr.strip()}")
    lines = shown.stdout.strip().splitlines()
    assert lines[-1] == "Tekan Enter untuk menutup."
    assert lines[-2].startswith("  ") and "(kode keluar 2)" in lines[-2]  # verdict, wrapped
    assert all(len(line) <= 40 for line in lines)
    assert shown.returncode == 0  # read got its Enter


def test_remove_deletes_only_its_own_script(
    isolated_cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = isolated_cli.parent
    assert run_cli(["shortcut", "install"]) == 0
    assert run_cli(["shortcut", "remove", "--lang", "en"]) == 0
    assert not _script(home).exists()
    assert run_cli(["shortcut", "remove", "--lang", "en"]) == 0  # nothing there: said
    assert "no jmo-doctor button" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["install", "remove"])
def test_a_script_of_the_persons_own_is_left_alone(
    isolated_cli: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    script = _script(isolated_cli.parent)
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho my own\n")
    assert run_cli(["shortcut", command, "--lang", "en"]) == 3
    assert script.read_text() == "#!/bin/sh\necho my own\n"
    err = capsys.readouterr().err
    assert "is not a button jmo-doctor made" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["install", "remove"])
def test_a_planted_link_is_neither_followed_nor_removed(
    isolated_cli: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    victim = isolated_cli.parent / "victim"
    victim.write_text(f"#!/bin/sh\n{MARKER}\nprecious\n")  # even one that looks ours
    script = _script(isolated_cli.parent)
    script.parent.mkdir()
    script.symlink_to(victim)
    assert run_cli(["shortcut", command]) == 3
    assert script.is_symlink() and victim.read_text().endswith("precious\n")
    assert stat.S_IMODE(victim.stat().st_mode) != 0o700


def test_a_shortcuts_path_that_is_a_link_is_refused(
    isolated_cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = isolated_cli.parent / "elsewhere"
    elsewhere.mkdir()
    (isolated_cli.parent / ".shortcuts").symlink_to(elsewhere)
    assert run_cli(["shortcut", "install", "--lang", "en"]) == 3
    assert list(elsewhere.iterdir()) == []
    assert "symbolic link, not a directory" in capsys.readouterr().err


def test_a_fifo_at_the_scripts_path_does_not_block(isolated_cli: Path) -> None:
    script = _script(isolated_cli.parent)
    script.parent.mkdir()
    os.mkfifo(script)
    assert run_cli(["shortcut", "install"]) == 3
    assert stat.S_ISFIFO(os.lstat(script).st_mode)
