"""Exit codes, the monitoring-plugin convention of SPEC §3."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        """The report's ``status`` field: ok | warning | critical | unknown."""
        return self.name.lower()
