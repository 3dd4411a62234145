"""pytest fixtures for the lab. In a conftest: ``from tests.lab.fixtures import *`` (this also
registers the hook that attaches server logs to failing lab tests), or import the
fixtures by name into a test module.

- ``lab_session``: one running :class:`Lab` for the whole session (skips with the reason
  where namespaces can't be made: not root, no ``ip netns``, no /dev/net/tun).
- ``lab``: that lab, reset to the healthy state (and an empty phone HOME) for each test.
- ``lab_config``: path of a config file for the healthy lab.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from .lab import Lab

__all__ = ["lab", "lab_config", "lab_session", "pytest_runtest_makereport"]

# The lab a test uses and how long each server log was when the test began.
_IN_USE = pytest.StashKey[tuple[Lab, dict[Path, int]]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed and _IN_USE in item.stash:
        # What the lab's servers logged during this test, shown next to the failure.
        lab_, sizes = item.stash[_IN_USE]
        for path in lab_.log_files():
            try:
                with path.open("rb") as f:
                    f.seek(sizes.get(path, 0))
                    text = f.read()[-4000:].decode(errors="replace")
            except OSError:
                continue
            if text.strip():
                report.sections.append((f"lab {path.name}", text))
    return report


@pytest.fixture(scope="session")
def lab_session() -> Iterator[Lab]:
    reason = Lab.unavailable_reason()
    if reason:
        pytest.skip(reason)
    the_lab = Lab()
    the_lab.start()
    try:
        yield the_lab
    finally:
        the_lab.stop()


@pytest.fixture
def lab(lab_session: Lab, request: pytest.FixtureRequest) -> Lab:
    lab_session.reset()
    request.node.stash[_IN_USE] = (
        lab_session,
        {p: p.stat().st_size for p in lab_session.log_files()},
    )
    return lab_session


@pytest.fixture
def lab_config(lab: Lab) -> Path:
    return lab.write_config()
