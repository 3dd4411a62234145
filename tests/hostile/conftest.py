"""Every hostile case runs the CLI kept to its own temp dirs (see ``isolated_cli``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def data_home(isolated_cli: Path) -> Path:
    return isolated_cli
