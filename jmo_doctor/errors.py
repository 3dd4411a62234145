"""The errors a person can cause, in one leaf module that imports nothing of jmo-doctor.

Every error worded for the person subclasses :class:`UserError`; the CLI prints its
message as one line and exits 3 (SPEC §3). pip's ``exceptions.py`` is the model: this
module must not import from the rest of the program, so anything can raise these.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input, a file or a state the person can fix: one clear line, exit code 3."""

    def __init__(self, message: str, *, report_written: bool = False) -> None:
        super().__init__(message)
        #: The run's own report already went out (e.g. to stdout when --output failed),
        #: so no "unknown" report may follow it.
        self.report_written = report_written
