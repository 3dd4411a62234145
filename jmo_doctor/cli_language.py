"""The command line in the person's language: --help, click's usage errors, our errors.

The language is known before click parses anything (a usage error must already speak
it): ``--lang`` if the command line has it, else the config's ``lang`` when the config
loads cleanly, else Indonesian (SPEC §3). Help texts come from the words catalogue
(``help.<command>``, ``help.<command>.<option>``, ``help.option.<option>``); click's own
words (``Usage:``, "No such option …") from its ``click.*`` entries, whose English is
click's message id.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

import click

from jmo_doctor.i18n import DEFAULT_LANG, LANGUAGES, say, words

#: The click modules that look their words up through gettext.
_CLICK_MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.types",
)

_chosen = ["en"]  # until the command line says: the code's own words are English
#: The commands whose help was put in a language, and where they sit.
_localized: dict[click.Command, tuple[str, ...]] = {}


def _option_value(args: Sequence[str], name: str) -> str | None:
    """The value of ``name`` on the command line (``--x V`` or ``--x=V``), before ``--``."""
    for at, arg in enumerate(args):
        if arg == "--":
            break
        if arg == name and at + 1 < len(args):
            return args[at + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1 :]
    return None


def language_of(args: Sequence[str]) -> str:
    """``--lang``, else the config's ``lang`` (if it loads cleanly), else Indonesian."""
    given = _option_value(args, "--lang")
    if given in LANGUAGES:
        return given
    try:
        from jmo_doctor import config

        path = config.find(_option_value(args, "--config"))
        # only a regular file: a FIFO or a device is the command's to refuse, not to wait on
        usable = path is not None and path.is_file()
        configured = config.load(str(path)).lang if usable else DEFAULT_LANG
    except Exception:  # a broken config is the command's to report, in the default language
        return DEFAULT_LANG
    return configured if configured in LANGUAGES else DEFAULT_LANG


def chosen() -> str:
    """The language the command line speaks (set by :func:`speak`)."""
    return _chosen[0]


def _click_words(lang: str) -> dict[str, str]:
    """click's message ids (and their translations: a help text set in the language of
    an earlier in-process run) → their words in ``lang``."""
    entries = [e for key, e in words().items() if key.startswith("click.")]
    return {e[each]: e[lang] for e in entries for each in LANGUAGES}


def speak(lang: str) -> None:
    """Make click and the help texts speak ``lang`` for the rest of the process."""
    _chosen[0] = lang
    table = _click_words(lang)
    _reword_localized()

    def gettext(message: str) -> str:
        return table.get(message, message)

    def ngettext(singular: str, plural: str, count: int) -> str:
        return gettext(singular if count == 1 else plural)

    _set_click_words(gettext, ngettext)


def unspeak() -> None:
    """The CLI run in-process is over (tests, embedding): click's own words again, and
    the help of every command worded so far back in the English the code has."""
    import gettext

    _chosen[0] = "en"
    _set_click_words(gettext.gettext, gettext.ngettext)
    _reword_localized()


def _reword_localized() -> None:
    """The commands worded so far (an earlier run in this process), in today's language."""
    for command, path in list(_localized.items()):
        localize(command, path)


def _set_click_words(
    gettext: Callable[[str], str], ngettext: Callable[[str, str, int], str]
) -> None:
    for name in _CLICK_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]


def help_key(path: Sequence[str]) -> str:
    return ".".join(("help", *path))


def localize(command: click.Command, path: Sequence[str]) -> click.Command:
    """``command`` (at ``path``, e.g. ``("kpj", "check")``) with its help in the language."""
    lang, known = chosen(), words()
    _localized[command] = tuple(path)
    key = help_key(path)
    if key in known:
        command.help = say(key, lang)
    # click makes --help's option once and keeps it: worded in the language of that time
    for param in [*command.params, getattr(command, "_help_option", None)]:
        if not isinstance(param, click.Option) or not param.help:
            continue
        for option_key in (f"{key}.{param.name}", f"help.option.{param.name}"):
            if option_key in known:
                param.help = say(option_key, lang)
                break
        else:  # --version's help: click's own words, fixed when the option was made
            param.help = _click_words(lang).get(param.help, param.help)
    if isinstance(command, click.Group) and not hasattr(command, "table"):
        for name, sub in command.commands.items():
            localize(sub, (*path, name))
    return command
