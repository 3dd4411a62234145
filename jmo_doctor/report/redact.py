"""Redaction (SPEC §7): what leaves the device in a report never identifies the person.

Reports are scrubbed as a whole document, in one walk, and the walk knows the document's
structure (:data:`REPORT_STRUCTURE`): ids, enums, codes, numbers, the configured targets,
the ``code@target`` of an evidence item and every dictionary key are the report's own
vocabulary and are never rewritten; every other string (summaries, messages, finding
data, details, causes' prose, what an evidence item saw, warnings, environment values,
plug-in fields nobody listed) is free text and passes through the same replacements, so
no probe has to remember to redact.

What is replaced in free text, always literally (a KPJ such as ``(.*.*)*X`` is a string
to find, never a pattern to run):

- the KPJ number given with ``--kpj``, in any spelling, down to its last 3 digits;
- the device's own IP addresses, its home directory, user and host name;
- credentials in URLs (``scheme://user:password@``);
- values of secret-named environment variables that look like a token (see
  :func:`looks_like_secret`): ``AUTH_LEVEL=critical`` or ``OAUTH_PROVIDER=google`` are
  words, not secrets, and must not turn a report into ``<secret>`` soup.

The target list (name, host, role) is the tool's configuration, not personal data: the
defaults are the same for everyone, a custom target is a server the person chose to check,
and a saved report needs the hosts and roles to know which failures are BPJS's.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, TypeAlias

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|PRIVATE|AUTH|COOKIE|CREDENTIAL", re.I)
# The lookbehind starts a scheme only where a word starts: without it every letter of a
# long word would begin a new scan to its end (quadratic on a 4 MB string).
_URL_CREDENTIALS = r"(?i:(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/@\s:]+(?::[^/@\s]*)?@)"

#: A secret shorter than this is a word, not a token.
SECRET_MIN_LENGTH: Final = 8
#: A secret (or KPJ) at least this long is found even inside a longer word: a token's
#: characters don't occur by chance. Shorter ones must stand alone.
TOKEN_LENGTH: Final = 16
_KPJ_MIN_DIGITS = 4
_KPJ_LONG_DIGITS = 8
# Identifier joiners: ``my_app-name.v`` is still a plain word, not a mix of kinds.
_JOINERS = frozenset("_-.")
# Account and machine names that are everybody's (Arch's web server runs as ``http``,
# Termux's host is ``localhost``): replacing them would only garble the report.
_ANONYMOUS_NAMES = frozenset(
    {"root", "http", "www-data", "nobody", "daemon", "user", "admin", "guest", "shell"}
    | {"localhost", "localhost.localdomain", "localdomain"}
)
_NOT_DEVICE_ADDRESSES = frozenset({"127.0.0.1", "::1", "0.0.0.0", "::"})
_EVIDENCE_HEAD = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+(?:@[^\s(]+)?")

# Where a report keeps structure rather than text. A key not listed is free text: a field
# added later, or a plug-in's, is scrubbed unless someone decides it is structure.
KEEP: Final = "keep"
TEXT: Final = "text"
#: "code@target (issuer: …)": the code and target are vocabulary, the rest what was seen
EVIDENCE: Final = "evidence"
#: KEEP, TEXT, EVIDENCE, an object (its keys' shapes) or a list (``[shape of each item]``)
Shape: TypeAlias = str | Mapping[str, "Shape"] | list["Shape"]

_FINDING: Mapping[str, Shape] = {"code": KEEP, "target": KEEP}  # message, data: text
_PROBE: Mapping[str, Shape] = {
    "id": KEEP,
    "status": KEEP,
    "duration_s": KEEP,
    "metrics": KEEP,  # names and numbers
    "findings": [_FINDING],
}  # summary, details: text
_CAUSE: Mapping[str, Shape] = {
    "id": KEEP,
    "rank": KEEP,
    "confidence": KEEP,
    "article_section": KEEP,
    "severity": KEEP,
    "evidence": [EVIDENCE],
}  # title, explanation, fix: text
REPORT_STRUCTURE: Final[Mapping[str, Shape]] = {
    "schema_version": KEEP,
    "tool": {"name": KEEP, "version": KEEP},
    "run": {"id": KEEP, "started_at": KEEP, "duration_s": KEEP, "lang": KEEP, "data_bytes": KEEP},
    "status": KEEP,
    "exit_code": KEEP,
    "all_clear": KEEP,
    "scope": KEEP,  # probe ids and why each was not checked: enums, booleans
    "environment": {"platform": KEEP},  # os, machine, python, …: text
    "targets": [{"name": KEEP, "host": KEEP, "role": KEEP}],
    "probes": [_PROBE],
    "causes": [_CAUSE],
    "redacted": KEEP,
}  # warnings: text

Replacement = Callable[[str], str]  # what was found → what the report says instead


def _always(placeholder: str) -> Replacement:
    return lambda _found: placeholder


def looks_like_secret(value: str) -> bool:
    """Whether a secret-named variable's value is worth hiding: a token, not a word.

    A token is at least :data:`SECRET_MIN_LENGTH` characters and mixes at least two kinds
    of character among letters, digits and symbols (``_``, ``-`` and ``.`` join words and
    don't count). So ``abc123secretvalue``, ``hunter22!``, ``ghp_x1Y2…`` are secrets;
    ``critical``, ``google``, ``true``, ``1``, ``1700000000`` and ``my_app-name`` are not,
    nor are paths (``SSH_AUTH_SOCK=/tmp/ssh-…/agent.1``): those name places, not keys.
    """
    if len(value) < SECRET_MIN_LENGTH or value.startswith(("/", "~")):
        return False
    kinds = {
        "letter" if ch.isalpha() else "digit" if ch.isdigit() else "symbol"
        for ch in value
        if ch not in _JOINERS
    }
    return len(kinds) >= 2


def _standing_alone(literal: str) -> str:
    """``literal`` as a pattern that does not match inside a longer word."""
    pattern = re.escape(literal)
    if literal[:1].isalnum():
        pattern = r"(?<![^\W_])" + pattern
    if literal[-1:].isalnum():
        pattern += r"(?![^\W_])"
    return pattern


def _secret_pattern(value: str) -> str:
    return re.escape(value) if len(value) >= TOKEN_LENGTH else _standing_alone(value)


def _kpj_rules(kpj: str) -> list[tuple[str, Replacement]]:
    """The KPJ as typed and its digits in any spelling, masked to the last 3 digits."""
    typed = kpj.strip()
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", typed) if ch in "0123456789")
    masked = "*" * (len(digits) - 3) + digits[-3:] if len(digits) > 3 else "***"
    rules: list[tuple[str, Replacement]] = []
    if len(typed) >= _KPJ_MIN_DIGITS:
        rules.append((_secret_pattern(typed), _always(masked)))
    if len(digits) >= _KPJ_LONG_DIGITS:
        # bare, or with a space, dash or dot between any two digits, even inside a longer
        # number: a full KPJ is a token
        spelled = r"[\s.-]?".join(digits)
        rules.append((spelled, _always(masked)))
    elif len(digits) >= _KPJ_MIN_DIGITS:
        rules.append((rf"(?<!\d){digits}(?!\d)", _always(masked)))
    return rules


def _address_pattern(address: str) -> str:
    """``address`` where it is that address, not part of a longer one.

    ``192.168.1.23`` is not in ``192.168.1.230``, but it is in ``192.168.1.23:54321`` (a
    port) and ``::ffff:192.168.1.23``; ``fe80::1c2b`` is not in ``fe80::1c2b:5``.
    """
    literal = re.escape(address)
    if ":" in address:
        return rf"(?<![\w.])(?<![0-9A-Fa-f:]:){literal}(?!\w|:[0-9A-Fa-f:])"
    return rf"(?<![\w.]){literal}(?!\w|\.\d)"


def _url_without_credentials(found: str) -> str:
    return found[: found.index("://") + 3] + "<credentials>@"


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
        # Order matters where two rules match at the same place: the more specific first.
        rules: list[tuple[str, Replacement]] = [(_URL_CREDENTIALS, _url_without_credentials)]
        secrets = {value for name, value in env.items() if _SECRET_NAME.search(name)}
        for value in sorted(filter(looks_like_secret, secrets), key=len, reverse=True):
            rules.append((_secret_pattern(value), _always("<secret>")))
        if kpj:
            rules += _kpj_rules(kpj)
        home = home if home is not None else str(Path.home())
        if home not in ("/", ""):
            rules.append((re.escape(home) + r"(?![\w-])", _always("~")))
        for address in sorted(set(device_addresses), key=len, reverse=True):
            bare = address.split("%")[0].split("/")[0]
            if bare and bare not in _NOT_DEVICE_ADDRESSES:
                rules.append((_address_pattern(bare), _always("<ip>")))
        for name, placeholder in ((hostname, "<host>"), (username, "<user>")):
            if name and len(name) >= 3 and name.lower() not in _ANONYMOUS_NAMES:
                pattern = rf"(?<![\w-]){re.escape(name)}(?![\w-])"
                rules.append((pattern, _always(placeholder)))
        # One pass over each string: a placeholder just written is never matched again.
        self._pattern = re.compile("|".join(f"(?P<r{i}>{p})" for i, (p, _) in enumerate(rules)))
        self._replacements = {f"r{i}": replace for i, (_, replace) in enumerate(rules)}

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
        """``value`` (free text) with everything sensitive replaced."""
        return self._pattern.sub(self._replace, value)

    def _replace(self, found: re.Match[str]) -> str:
        rule = found.lastgroup or ""
        return self._replacements[rule](found.group())

    def document(self, value: Any) -> Any:
        """A copy of a report document with the free text scrubbed, its structure intact."""
        return self._walk(value, REPORT_STRUCTURE)

    def _walk(self, value: Any, shape: Shape) -> Any:
        if isinstance(value, str):
            return self._string(value, shape)
        if isinstance(value, Mapping):
            fields = shape if isinstance(shape, Mapping) else {}
            inner = KEEP if shape == KEEP else TEXT
            return {key: self._walk(item, fields.get(key, inner)) for key, item in value.items()}
        if isinstance(value, list | tuple):
            item = shape[0] if isinstance(shape, list) else KEEP if shape == KEEP else TEXT
            return [self._walk(element, item) for element in value]
        return value

    def _string(self, value: str, shape: Shape) -> str:
        if shape == KEEP:
            return value
        if shape == EVIDENCE and (head := _EVIDENCE_HEAD.match(value)):
            return value[: head.end()] + self.text(value[head.end() :])
        return self.text(value)
