"""`jmo-doctor shortcut install|remove`: a Termux:Widget button on the home screen.

Termux:Widget lists the scripts in ``~/.shortcuts/`` (in a terminal) and
``~/.shortcuts/tasks/`` (in the background, no screen): the button must show its result,
so the script goes in ``~/.shortcuts/``. It runs ``jmo-doctor run --short`` by the
absolute path of this very jmo-doctor (the widget's shell has no venv on its PATH), then
waits for Enter so the verdict stays on the screen.

The script is ours only while it carries :data:`MARKER`: install replaces only such a
file and remove deletes only such a file; anything else at that path (the person's own
script, a link, a directory) is left alone and said. Writing goes through
:func:`jmo_doctor.fileio.write_atomic`, which never writes through a link.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import stat
import sys
from pathlib import Path

import click

from jmo_doctor.commands.common import lang_option, resolve_lang, say
from jmo_doctor.errors import UserError
from jmo_doctor.exitcodes import ExitStatus
from jmo_doctor.report.labels import label

#: The button's name on the widget is the file's name.
NAME = "jmo-doctor"
#: The line that makes a script ours (install may replace it, remove may delete it).
MARKER = "# jmo-doctor shortcut: written by `jmo-doctor shortcut install`"
#: How much of an existing file is read to look for the marker.
_HEAD_BYTES = 4096
_SAFE_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def shortcuts_dir() -> Path:
    return Path.home() / ".shortcuts"


def command_line() -> list[str]:
    """This jmo-doctor, by absolute path: its console script, else ``python -m``."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == NAME and script.is_file():
        return [str(script.absolute())]
    return [sys.executable, "-m", "jmo_doctor"]


def script_text(lang: str, chosen_lang: str | None) -> str:
    """The POSIX sh script the button runs."""
    shell = shutil.which("sh") or "/bin/sh"  # Termux has no /bin/sh
    run = [*command_line(), "run", "--short", *(["--lang", chosen_lang] if chosen_lang else [])]
    return "\n".join(
        [
            f"#!{shell}",
            MARKER,
            "# `jmo-doctor shortcut remove` deletes it.",
            " ".join(shlex.quote(part) for part in run),
            f"printf '%s\\n' {shlex.quote(label('shortcut.press_enter', lang))}",
            "read -r _",
            "",
        ]
    )


@click.group()
def shortcut() -> None:
    """A Termux:Widget home-screen button that runs the check (~/.shortcuts)."""


@shortcut.command()
@lang_option
def install(lang: str | None) -> int:
    """Write the button's script to ~/.shortcuts/jmo-doctor."""
    shown_lang = resolve_lang(lang)
    directory = _directory(shown_lang)
    path = directory / NAME
    if _is_foreign(path):
        raise UserError(label("shortcut.not_ours", shown_lang).format(path=path))
    from jmo_doctor.fileio import write_atomic

    try:
        write_atomic(str(path), script_text(shown_lang, lang), devices=False, file_mode=0o700)
    except OSError as error:
        reason = error.strerror or str(error)
        message = label("shortcut.cannot_write", shown_lang).format(path=path, reason=reason)
        raise UserError(message) from None
    say(label("shortcut.installed", shown_lang).format(path=path, name=NAME))
    return ExitStatus.OK


@shortcut.command()
@lang_option
def remove(lang: str | None) -> int:
    """Delete the button's script (only the one jmo-doctor wrote)."""
    shown_lang = resolve_lang(lang)
    path = shortcuts_dir() / NAME
    if not os.path.lexists(path):
        say(label("shortcut.absent", shown_lang).format(path=path))
        return ExitStatus.OK
    if _is_foreign(path):
        raise UserError(label("shortcut.not_ours", shown_lang).format(path=path))
    path.unlink()
    say(label("shortcut.removed", shown_lang).format(path=path))
    return ExitStatus.OK


def _directory(lang: str) -> Path:
    """``~/.shortcuts``, made 0700 when missing; a link or a file there is refused."""
    directory = shortcuts_dir()
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(
            label("shortcut.cannot_write", lang).format(path=directory, reason=reason)
        ) from None
    found = os.lstat(directory).st_mode
    if not stat.S_ISDIR(found):
        from jmo_doctor.fileio import kind_of

        reason = f"{kind_of(found)}, not a directory"
        raise UserError(label("shortcut.cannot_write", lang).format(path=directory, reason=reason))
    return directory


def _is_foreign(path: Path) -> bool:
    """Something is at ``path`` that is not our script (a link counts as foreign)."""
    try:
        fd = os.open(path, _SAFE_READ)
    except FileNotFoundError:
        return False
    except OSError as error:
        return error.errno != errno.ENOENT  # a link (ELOOP), a FIFO, no permission
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return True
        head = os.read(fd, _HEAD_BYTES).decode("utf-8", "replace")
    finally:
        os.close(fd)
    return MARKER not in head.splitlines()[:3]
