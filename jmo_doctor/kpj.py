"""KPJ number checks, shared by the ``kpj`` probe and ``jmo-doctor kpj check``.

A KPJ (Kartu Peserta Jamsostek) number is 11 digits. People copy it from the card with
spaces, dashes or dots between the groups, so those are removed before checking. Pure
functions only: nothing here touches the network or the environment.

The full number is personal data: it is kept only in :attr:`KpjVerdict.digits` (hidden
from ``repr``) and every text made here shows at most its last 3 characters.

What was typed reaches a terminal (``kpj check`` echoes it, the probe puts it in the
report), so a character of it is shown as itself only when it is printable: an escape,
control or invisible format character is shown as U+FFFD in the masked number and by its
code point (``U+001B``) where the message lists what is not a digit.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from jmo_doctor.i18n import say
from jmo_doctor.safetext import one_line

__all__ = ["KPJ_LENGTH", "KpjVerdict", "Reason", "check_kpj", "mask_kpj", "verdict_message"]

KPJ_LENGTH = 11

Reason = Literal["empty", "non_digit", "length"]

#: Group separators people type or paste from the card: whitespace is handled apart.
_SEPARATORS = frozenset("-.\u2010\u2011\u2012\u2013\u2014\u2212")
_ASCII_DIGITS = frozenset("0123456789")
_MAX_VISIBLE = 3


@dataclass(frozen=True)
class KpjVerdict:
    """The outcome of :func:`check_kpj`.

    ``digits`` is the input without separators (all digits only when ``valid``); it is
    left out of ``repr`` so that logging a verdict cannot leak the number.
    """

    valid: bool
    digits: str = field(repr=False)
    reason: Reason | None
    length: int
    masked: str


def _clean(raw: str) -> str:
    # NFKC turns full-width digits (typed with some Asian keyboards) into ASCII ones.
    text = unicodedata.normalize("NFKC", raw)
    return "".join(ch for ch in text if not ch.isspace() and ch not in _SEPARATORS)


def _mask(cleaned: str) -> str:
    # At most 3 characters stay visible, and never fewer than 3 are hidden: a short
    # input must not be shown whole.
    visible = min(_MAX_VISIBLE, max(0, len(cleaned) - _MAX_VISIBLE))
    return "*" * (len(cleaned) - visible) + one_line(cleaned[len(cleaned) - visible :])


def mask_kpj(raw: str) -> str:
    """``raw`` without separators, all but (at most) its last 3 characters as ``*``."""
    return _mask(_clean(raw))


def check_kpj(raw: str) -> KpjVerdict:
    """Check that ``raw`` is 11 digits once spaces, dashes and dots are removed."""
    cleaned = _clean(raw)
    reason: Reason | None
    if not cleaned:
        reason = "empty"
    elif not set(cleaned) <= _ASCII_DIGITS:
        reason = "non_digit"
    elif len(cleaned) != KPJ_LENGTH:
        reason = "length"
    else:
        reason = None
    return KpjVerdict(
        valid=reason is None,
        digits=cleaned,
        reason=reason,
        length=len(cleaned),
        masked=_mask(cleaned),
    )


def _non_digits(verdict: KpjVerdict) -> str:
    seen: list[str] = []
    for ch in verdict.digits:
        if ch not in _ASCII_DIGITS and ch not in seen:
            seen.append(ch)
    return ", ".join(map(_shown, seen))


def _shown(ch: str) -> str:
    # a zero-width space pasted from a PDF is as invisible as an escape: name it
    return f"'{ch}'" if ch.isprintable() and one_line(ch) == ch else f"U+{ord(ch):04X}"


def verdict_message(verdict: KpjVerdict, lang: str = "id") -> str:
    """One sentence for a person: the verdict and, when invalid, exactly why."""
    if verdict.reason is None:
        return say("kpj.check.valid", lang, masked=verdict.masked)
    if verdict.reason == "empty":
        return say("kpj.check.empty", lang)
    if verdict.reason == "non_digit":
        return say("kpj.check.non_digit", lang, masked=verdict.masked, chars=_non_digits(verdict))
    missing = KPJ_LENGTH - verdict.length
    key = "kpj.check.too_few" if missing > 0 else "kpj.check.too_many"
    return say(key, lang, masked=verdict.masked, length=verdict.length, off=abs(missing))
