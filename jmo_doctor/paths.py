"""Where jmo-doctor keeps its data (SPEC §3): history, the run lock, the schedule's log.

``$JMO_DOCTOR_HOME`` wins so that cron jobs, tests and several profiles can each point at
their own directory; otherwise the platform's user data directory (on Termux that is
``~/.local/share/jmo-doctor`` inside the app's private storage).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HOME_VARIABLE = "JMO_DOCTOR_HOME"
HISTORY_FILE = "history.sqlite3"
LOCK_FILE = "run.lock"
SCHEDULE_LOG = "schedule.log"


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """The data directory (not created: reading the history must not create it)."""
    env = os.environ if environ is None else environ
    chosen = env.get(HOME_VARIABLE, "").strip()
    if chosen:
        return Path(chosen).expanduser().absolute()
    import platformdirs  # deferred: only the commands that store data pay for it

    return Path(platformdirs.user_data_dir("jmo-doctor", appauthor=False)).absolute()


def ensure(home: Path) -> Path:
    """Create ``home`` if needed, private to the user (reports hold network details)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home
