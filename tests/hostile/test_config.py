"""Hostile configs (issue 9, items 6, 11, 14): each is one clear line naming file, line and
key, exit code 3 — never a traceback, a hang, a huge allocation or a silently wrong run."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jmo_doctor import config
from jmo_doctor.cli import run_cli
from jmo_doctor.config import ConfigError
from jmo_doctor.errors import UserError

SOURCE = "/etc/jmo.toml"
#: `run` that needs no network at all: the failures below come before any probe.
OFFLINE_RUN = ["run", "--only", "kpj", "--kpj", "12345678901"]


def _error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config.parse(text, SOURCE)
    shown = str(caught.value)
    assert "\n" not in shown and shown.startswith(SOURCE)
    return shown


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    assert lines[0].startswith("jmo-doctor: error: ")
    return lines[0]


# --- every float key: nan and the infinities (item 11) ------------------------------------

_FLOAT_KEYS = [
    (section, key)
    for section, keys in [("", config.TOP_KEYS), *config.SECTIONS.items()]
    for key, spec in keys.items()
    if spec.kind is float
]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
@pytest.mark.parametrize(
    ("section", "key"), _FLOAT_KEYS, ids=[f"{s or 'top'}.{k}" for s, k in _FLOAT_KEYS]
)
def test_every_float_key_rejects_non_finite_values(section: str, key: str, value: str) -> None:
    text = f'lang = "en"\n[{section}]\n{key} = {value}\n' if section else f"\n{key} = {value}\n"
    shown = _error_of(text)
    assert f"line {3 if section else 2}" in shown
    assert f"'{key}'" in shown and "must be a finite number" in shown


# --- one table of hostile values: (id, config text, line, what the message must say) ------

BAD_VALUES = [
    # absurd numbers
    ("timeout-zero", "timeout = 0\n", 1, ["'timeout'", "greater than 0"]),
    ("timeout-negative", "timeout = -5\n", 1, ["'timeout'", "greater than 0"]),
    ("timeout-over-an-hour", "timeout = 3601\n", 1, ["'timeout'", "at most 3600"]),
    ("timeout-1e308", "timeout = 1e308\n", 1, ["'timeout'", "at most 3600"]),
    ("timeout-1e30", f"timeout = {10**30}\n", 1, ["'timeout'", "at most 3600"]),
    ("timeout-bigger-than-a-float", f"timeout = {10**400}\n", 1, ["'timeout'", "finite"]),
    ("threshold-absurd", "[latency]\nhigh_ms = 1e300\n", 2, ["'high_ms'", "at most 600000"]),
    ("loss-over-100", "[latency]\nloss_pct = 101\n", 2, ["'loss_pct'", "at most 100"]),
    ("samples-zero", "[latency]\nsamples = 0\n", 2, ["'samples'", "at least 1"]),
    ("streams-negative", "[bandwidth]\nstreams = -1\n", 2, ["'streams'", "at least 1"]),
    ("retention-zero", "[history]\nretention_days = 0\n", 2, ["'retention_days'", "at least 1"]),
    ("max-runs-negative", "[history]\nmax_runs = -5\n", 2, ["'max_runs'", "at least 1"]),
    ("port-zero", '[[target]]\nhost = "a.example"\nport = 0\n', 3, ["'port'", "at least 1"]),
    ("port-65536", '[[target]]\nhost = "a.example"\nport = 65536\n', 3, ["'port'", "65535"]),
    # unknown sections get their line (item 14)
    ("unknown-section", 'lang = "en"\n\n[foo]\nx = 1\n', 3, ["[foo] is not a known section"]),
    ("unknown-array-of-tables", "[[foo]]\nx = 1\n", 1, ["[foo] is not a known section"]),
    ("unknown-subtable", "[dns.extra]\nx = 1\n", 1, ["[dns] key 'extra'", "not a known"]),
    ("unknown-dotted-key", "\ndns.nope = 1\n", 2, ["[dns] key 'nope'", "not a known"]),
    # host names (item 14): spaces, controls, IDNA, labels, ports in the host
    ("host-with-space", '[[target]]\nhost = "a b"\n', 2, ["'host'", "not a valid host"]),
    ("host-with-newline", '[[target]]\nhost = "a\\n"\n', 2, ["'host'", "control character"]),
    ("host-with-escape", '[[target]]\nhost = "a\\u001b[2J"\n', 2, ["'host'", "control"]),
    ("host-empty", '[[target]]\nhost = ""\n', 2, ["'host'", "not a valid host"]),
    ("host-empty-label", '[[target]]\nhost = "a..b"\n', 2, ["'host'", "not a valid host"]),
    ("host-leading-hyphen", '[[target]]\nhost = "-a.example"\n', 2, ["not a valid host"]),
    ("host-label-64", f'[[target]]\nhost = "{"a" * 64}.example"\n', 2, ["not a valid host"]),
    ("host-255-chars", f'[[target]]\nhost = "{"a." * 127}a"\n', 2, ["not a valid host"]),
    ("host-bad-address", '[[target]]\nhost = "10.0.0.300"\n', 2, ["not a valid host"]),
    ("host-with-port", '[[target]]\nhost = "a.example:443"\n', 2, ["give the port as 'port'"]),
    ("host-bad-idna", '[[target]]\nhost = "xn--a.example"\n', 2, ["not a valid host"]),
    # URLs: the netloc is a host like any other, and the port is a port
    ("url-host-with-space", '[app]\nplay_store_url = "https://play google.com/x"\n', 2, ["spaces"]),
    ("url-tab", '[captive_portal]\nurl = "http://exa\\tmple.com/"\n', 2, ["'url'", "control"]),
    ("url-port-zero", '[captive_portal]\nurl = "http://a.example:0/"\n', 2, ["port 0"]),
    ("url-port-70000", '[captive_portal]\nurl = "http://a.example:70000/"\n', 2, ["Port out"]),
    ("url-port-text", '[captive_portal]\nurl = "http://a.example:x/"\n', 2, ["not a valid URL"]),
    ("url-no-host", '[captive_portal]\nurl = "https:///generate_204"\n', 2, ["must be a URL"]),
    ("url-bad-ipv6", '[captive_portal]\nurl = "http://[::1/"\n', 2, ["not a valid URL"]),
    ("url-bad-host", '[captive_portal]\nurl = "http://a_-.example!/"\n', 2, ["has a host"]),
    ("url-ftp", '[captive_portal]\nurl = "ftp://a.example/"\n', 2, ["http:// or https://"]),
    ("doh-space", '[dns]\ndoh = ["https://dns google/q"]\n', 2, ["'doh'", "entry"]),
    # control characters and sizes in any string
    ("country-escape", '[app]\ncountry = "i\\u001bd"\n', 2, ["'country'", "control"]),
    ("country-word", '[app]\ncountry = "indonesia"\n', 2, ["'country'", "two-letter"]),
    ("version-newline", '[app]\ninstalled_version = "3.1\\n"\n', 2, ["control character"]),
    ("version-space", '[app]\ninstalled_version = "3 1"\n', 2, ["without spaces"]),
    ("package-shell", '[app]\nandroid_package = "com.x;rm"\n', 2, ["Android package name"]),
    ("app-id-letters", '[app]\nios_app_id = "id123"\n', 2, ["digits only"]),
    ("ca-bundle-nul", 'ca_bundle = "a\\u0000b"\n', 1, ["'ca_bundle'", "control"]),
    ("ca-bundle-long-name", f'ca_bundle = "/{"x" * 300}"\n', 1, ["'ca_bundle'"]),
    ("resolver-escape", '[dns]\ntrusted_resolvers = ["1.1.1.1\\u001b"]\n', 2, ["control"]),
    ("string-too-long", f'[app]\ninstalled_version = "{"9" * 3000}"\n', 2, ["longer than 2048"]),
    ("bidi-override", '[app]\ncountry = "\\u202eid"\n', 2, ["control character"]),
    # nesting that would blow tomllib's recursion
    ("nested-arrays", "x = " + "[" * 5000 + "]" * 5000 + "\n", None, ["nested too deep"]),
]


@pytest.mark.parametrize(
    ("text", "line", "fragments"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES]
)
def test_hostile_values_are_one_line_naming_line_and_key(
    text: str, line: int | None, fragments: list[str]
) -> None:
    shown = _error_of(text)
    if line is not None:
        assert f", line {line}:" in shown
    for fragment in fragments:
        assert fragment in shown


def test_a_hostname_that_made_the_old_pattern_backtrack_is_refused_at_once() -> None:
    started = time.monotonic()
    _error_of(f'[[target]]\nhost = "{"a" * 200}!"\n')
    assert time.monotonic() - started < 0.5  # the regular expression took minutes


@pytest.mark.parametrize(
    "host",
    ["www.bpjsketenagakerjaan.go.id", "localhost", "127.0.0.1", "::1", "bücher.example", "a.b."],
)
def test_real_hosts_still_pass(host: str) -> None:
    loaded = config.parse(f'[[target]]\nname = "t"\nhost = "{host}"\n', SOURCE)
    assert loaded.targets[0].host == host


# --- huge lists: refused before any entry is validated, with the cap in the message -------

HUGE_LISTS = [
    (
        "100000-resolvers",
        "[dns]\ntrusted_resolvers = [" + ", ".join(['"1.1.1.1"'] * 100_000) + "]\n",
        2,
        "has 100000 entries; at most 64",
    ),
    (
        "65-resolvers",
        "[dns]\ntrusted_resolvers = [" + ", ".join(['"1.1.1.1"'] * 65) + "]\n",
        2,
        "at most 64",
    ),
    (
        "17-doh",
        "[dns]\ndoh = [" + ", ".join(['"https://d.example/q"'] * 17) + "]\n",
        2,
        "at most 16",
    ),
    (
        "257-targets",
        "".join(f'[[target]]\nname = "t{i}"\nhost = "h{i}.example"\n' for i in range(257)),
        3 * 256 + 1,
        "[[target]] #257 is one too many: at most 256",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "fragment"), [c[1:] for c in HUGE_LISTS], ids=[c[0] for c in HUGE_LISTS]
)
def test_huge_lists_are_refused_cheaply(text: str, line: int, fragment: str) -> None:
    started = time.monotonic()
    shown = _error_of(text)
    assert time.monotonic() - started < 5  # tomllib itself reads 100 000 entries in ~0.2 s
    assert f"line {line}:" in shown and fragment in shown


def test_the_caps_themselves_are_accepted() -> None:
    text = "[dns]\ntrusted_resolvers = [" + ", ".join(['"1.1.1.1"'] * 64) + "]\n"
    text += "".join(f'[[target]]\nname = "t{i}"\nhost = "h{i}.example"\n' for i in range(256))
    loaded = config.parse(text, SOURCE)
    assert len(loaded.dns.trusted_resolvers) == 64 and len(loaded.targets) == 256


# --- what the file is (items 6 and 14) --------------------------------------------------------


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbflang = "en"\n[latency]\nsamples = 3\n')
    loaded = config.load(str(path))
    assert (loaded.lang, loaded.latency.samples) == ("en", 3)
    assert config.parse('\ufefflang = "en"\n', SOURCE).lang == "en"


@contextmanager
def _fifo_writer(path: Path, chunks: list[bytes], pause_s: float = 0.0) -> Iterator[None]:
    """A writer on the FIFO at ``path`` sending ``chunks`` (then holding it open if the
    last chunk is empty), as `--config <(slow command)` would."""
    stop = threading.Event()

    def write() -> None:
        with path.open("wb", buffering=0) as stream:  # blocks until the reader opens
            for chunk in chunks:
                if stop.wait(pause_s):
                    return
                stream.write(chunk)
            if chunks and chunks[-1] == b"":
                stop.wait(30)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # a reader that never came: open one so the writer's open returns, then it ends
        unblock = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        thread.join(5)
        os.close(unblock)


def _make_fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    return path


def _big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.toml"
    path.write_bytes(b"# padding\n" * 220_000)  # 2.2 MB of valid TOML
    return path


def _not_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'lang = "en"\n\n# K\xf6ln\n')
    return path


def _loop(tmp_path: Path) -> Path:
    path = tmp_path / "loop.toml"
    path.symlink_to(path)
    return path


FILES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("dev-zero", lambda _: Path("/dev/zero"), "larger than 1 MiB"),
    ("two-megabytes", _big_file, "larger than 1 MiB"),
    ("directory", lambda tmp: tmp, "is a directory"),
    ("not-utf8", _not_utf8, "line 3: not UTF-8 text"),
    ("missing", lambda tmp: tmp / "absent.toml", "config file not found"),
    ("symlink-loop", _loop, "cannot read config"),
    ("fifo-nobody-writes", _make_fifo, "did not arrive within 0.3 s"),
]


@pytest.mark.parametrize(("make", "fragment"), [f[1:] for f in FILES], ids=[f[0] for f in FILES])
def test_files_that_are_not_configs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], Path],
    fragment: str,
) -> None:
    monkeypatch.setattr(config, "READ_TIMEOUT_S", 0.3)
    path = make(tmp_path)
    started = time.monotonic()
    assert run_cli([*OFFLINE_RUN, "--config", str(path)]) == 3
    assert time.monotonic() - started < 5
    line = _one_error_line(capsys.readouterr().err)
    assert str(path) in line and fragment in line


@pytest.mark.parametrize(
    ("chunks", "pause_s"),
    [([b"x = ", b"[1"], 0.2), ([b"x", b""], 0.0)],
    ids=["fifo-trickles-past-the-deadline", "fifo-writer-goes-silent"],
)
def test_a_pipe_that_never_ends_is_cut_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes], pause_s: float
) -> None:
    monkeypatch.setattr(config, "READ_TIMEOUT_S", 0.3)
    path = _make_fifo(tmp_path)
    with _fifo_writer(path, chunks * 20 if pause_s else chunks, pause_s):
        started = time.monotonic()
        with pytest.raises(ConfigError, match=r"did not arrive within 0\.3 s"):
            config.load(str(path))
        assert time.monotonic() - started < 2


def test_a_pipe_that_sends_a_config_is_read(tmp_path: Path) -> None:
    path = _make_fifo(tmp_path)
    with _fifo_writer(path, [b'lang = "en"\n', b"[latency]\nsamples = 4\n"], 0.05):
        loaded = config.load(str(path))
    assert (loaded.lang, loaded.latency.samples) == ("en", 4)


def test_dev_null_means_the_defaults() -> None:
    assert config.load("/dev/null").timeout == config.parse("", SOURCE).timeout


# --- through the CLI: exit 3, one line with the key and its line ---------------------------

CLI_CASES = [
    ("timeout-nan", "timeout = nan\n", ["line 1", "'timeout'", "finite"]),
    ("threshold-inf", "[latency]\njitter_ms = inf\n", ["line 2", "'jitter_ms'", "finite"]),
    ("unknown-section", "\n\n[foo]\n", ["line 3", "[foo] is not a known section"]),
    ("url-host-space", '[app]\nplay_store_url = "https://play google.com/x"\n', ["line 2"]),
    ("host-space", '[[target]]\nhost = "a b"\n', ["line 2", "'host'"]),
]


@pytest.mark.parametrize(
    ("text", "fragments"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_run_with_a_hostile_config_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragments: list[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert run_cli([*OFFLINE_RUN, "--config", str(path)]) == 3
    line = _one_error_line(capsys.readouterr().err)
    for fragment in [str(path), *fragments]:
        assert fragment in line


# --- the --timeout option, checked by the same rule (config.check_timeout) ---------------

BAD_TIMEOUTS = [
    ("nan", float("nan"), "must be a finite number"),
    ("inf", float("inf"), "must be a finite number"),
    ("minus-inf", float("-inf"), "must be a finite number"),
    ("zero", 0.0, "must be greater than 0"),
    ("negative", -1.0, "must be greater than 0"),
    ("over-an-hour", 3600.5, "must be at most 3600"),
]


@pytest.mark.parametrize(
    ("value", "fragment"), [c[1:] for c in BAD_TIMEOUTS], ids=[c[0] for c in BAD_TIMEOUTS]
)
def test_check_timeout_names_the_option(value: float, fragment: str) -> None:
    with pytest.raises(UserError) as caught:
        config.check_timeout(value)
    assert str(caught.value).startswith("--timeout ") and fragment in str(caught.value)


@pytest.mark.parametrize("value", [0.001, 2, 30.0, 3600])
def test_check_timeout_passes_real_deadlines(value: float) -> None:
    assert config.check_timeout(value) == float(value)


def test_a_config_dir_we_may_not_enter_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """`is_file()` raised PermissionError from the implicit lookup: an internal error."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    locked = Path(tempfile.mkdtemp(prefix="jmo-cfg-"))  # 0700, root's: `nobody` stays out
    monkeypatch.setenv("XDG_CONFIG_HOME", str(locked))
    try:
        os.setegid(65534)
        os.seteuid(65534)
        try:
            with pytest.raises(ConfigError, match=r"cannot read config \(Permission denied\)"):
                config.load(None)
        finally:
            os.seteuid(0)
            os.setegid(0)
    finally:
        locked.rmdir()
