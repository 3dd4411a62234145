"""Redaction (SPEC §7): what leaves the device in a report never identifies the person.

Reports are scrubbed as a whole document: every string anywhere in it (plug-in data
included) passes through the same replacements, so no probe has to remember to redact.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|PRIVATE|AUTH|COOKIE|CREDENTIAL", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+(:[^/@\s]*)?@", re.I)
_MIN_SECRET_LEN = 6


def _kpj_patterns(kpj: str) -> list[str]:
    digits = re.sub(r"\D", "", kpj)
    found = [kpj.strip()] if len(kpj.strip()) >= 4 else []
    if len(digits) >= 4:
        # the number as typed, bare, or with any spacing/dashes between the digits
        found.append(r"[\s-]?".join(re.escape(d) for d in digits))
    return found


class Redactor:
    """Collects what is sensitive on this device and scrubs it from report documents."""

    def __init__(
        self,
        *,
        kpj: str | None = None,
        device_addresses: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
        hostname: str | None = None,
        username: str | None = None,
        home: str | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        rules: list[tuple[re.Pattern[str], str]] = []
        if kpj:
            digits = re.sub(r"\D", "", kpj)
            masked = "*" * max(0, len(digits) - 3) + digits[-3:] if len(digits) > 3 else "***"
            rules += [(re.compile(p), masked) for p in _kpj_patterns(kpj)]
        for value in sorted({v for k, v in env.items() if _SECRET_NAME.search(k)}, key=len):
            if len(value) >= _MIN_SECRET_LEN:
                rules.insert(0, (re.compile(re.escape(value)), "<secret>"))
        for address in sorted(set(device_addresses), key=len, reverse=True):
            bare = address.split("%")[0].split("/")[0]
            if bare and bare not in ("127.0.0.1", "::1", "0.0.0.0", "::"):
                rules.append((re.compile(rf"(?<![\w.:]){re.escape(bare)}(?![\w:]|\.\d)"), "<ip>"))
        home = home if home is not None else str(Path.home())
        if home and home not in ("/", ""):
            rules.append((re.compile(re.escape(home)), "~"))
        for name, placeholder in ((hostname, "<host>"), (username, "<user>")):
            if name and len(name) >= 3:
                rules.append((re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])"), placeholder))
        rules.append((_URL_CREDENTIALS, r"\g<scheme><credentials>@"))
        self._rules = rules

    @classmethod
    def for_this_device(cls, *, kpj: str | None, device_addresses: Iterable[str]) -> Redactor:
        try:
            username: str | None = getpass.getuser()
        except (OSError, KeyError):
            username = None
        return cls(
            kpj=kpj,
            device_addresses=device_addresses,
            hostname=socket.gethostname(),
            username=username,
        )

    def text(self, value: str) -> str:
        for pattern, replacement in self._rules:
            value = pattern.sub(replacement, value)
        return value

    def document(self, value: Any) -> Any:
        """A copy of a JSON-like document with every string scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.document(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.document(item) for item in value]
        return value
