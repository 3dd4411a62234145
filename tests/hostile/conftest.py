"""Every hostile case runs the CLI kept to its own temp dirs (see ``isolated_cli``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jmo_doctor import cli_language


@pytest.fixture(autouse=True)
def data_home(isolated_cli: Path) -> Path:
    return isolated_cli


@pytest.fixture(autouse=True)
def english_error_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """These cases check the words of the error lines in English: a command line without
    --lang (and no config lang) speaks English here instead of Indonesian. The reports keep
    their own default (id); the Indonesian error lines are checked in tests/test_i18n.py."""
    monkeypatch.setattr(cli_language, "DEFAULT_LANG", "en")
