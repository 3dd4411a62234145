"""An error in words for the report: the one error-text helper of the probes."""

from __future__ import annotations

from jmo_doctor.api import LocalText, Messages
from probes._common.command import CommandFailed

#: The longest error text a detail carries; longer ones are cut with "...".
MAX_CHARS = 200
#: Network errors that ``words=True`` names in one word.
_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (TimeoutError, "timeout"),
    (ConnectionRefusedError, "refused"),
    (ConnectionResetError, "reset"),
)


#: Those words as a person reads them, in a message (the word itself stays in the data).
ERROR_WORDS: Messages = {
    "timeout": {"id": "waktu habis", "en": "timed out"},
    "refused": {"id": "koneksi ditolak", "en": "connection refused"},
    "reset": {"id": "koneksi diputus", "en": "connection reset"},
}


def in_words(error: str) -> LocalText:
    """``error`` for a message: one of :data:`ERROR_WORDS` in every language, else as is."""
    return ERROR_WORDS.get(error, error)


def error_text(
    error: BaseException, *, words: bool = False, private: bool = False, typed: bool = False
) -> str:
    """What went wrong: the error's own message (else its type), cut to ``MAX_CHARS``.

    ``typed``: "Type: first line of the message", as the bandwidth details give it (an
    httpx error's type says more than its message).

    ``words``: a timeout, a refused or a reset connection reads as one word ("timeout",
    "refused", "reset"), as the TLS details give them.

    ``private``: for reads of local state (files, /proc, commands), the error's type and
    errno text only: an OSError's message carries paths, which can hold the user's name.
    A command that failed says what it printed (:class:`CommandFailed`).
    """
    if private:
        if isinstance(error, OSError) and error.strerror:
            return f"{type(error).__name__}: {error.strerror}"
        if isinstance(error, TimeoutError):
            return "timed out"
        if isinstance(error, CommandFailed):
            return str(error)
        return type(error).__name__
    if words:
        for kind, word in _WORDS:
            if isinstance(error, kind):
                return word
    text = str(error) or type(error).__name__
    if typed:
        first = str(error).splitlines()[0] if str(error) else ""
        text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text if len(text) < MAX_CHARS else text[: MAX_CHARS - 3] + "..."
