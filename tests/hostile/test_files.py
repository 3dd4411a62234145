"""Hostile files (issue 9, items 1, 4, 6, 9, 12), through the real CLI in-process.

What a user would notice: ``--output`` onto a device, a FIFO or a terminal writes there
and leaves the node a node; onto a link, a directory or a socket it says so in one line,
exit 3, the report still on stdout and nothing touched. Whatever sits at ``run.lock`` is
left alone with a warning naming it, and a full data directory costs only the pid note.
``report show`` of a file too big, of the wrong kind or of the wrong shape is one line
naming the file and the wrong field, exit 3 — never a hang, a traceback or "internal
error". And the small schema validator agrees with the real ``jsonschema``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import select
import socket
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from jmo_doctor.cli import run_cli
from jmo_doctor.monitor import lock
from jmo_doctor.report import document, schema
from tests.helpers import verdict_of
from tests.test_golden import SCENARIOS
from tests.test_golden import _document as golden_document

#: `run` without the network: the kpj probe is offline; and without the history.
KPJ_ONLY = ["run", "--only", "kpj", "--kpj", "12345678901"]
OFFLINE_RUN = [*KPJ_ONLY, "--no-history"]
#: Our own nodes in temp dirs, with the numbers of /dev/null, /dev/zero and /dev/full.
NULL, ZERO, FULL = os.makedev(1, 3), os.makedev(1, 5), os.makedev(1, 7)

Snapshot = dict[str, tuple[int, int, int, bytes | None]]  # kind, inode, rdev, content


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """Where the hostile things are planted (apart from HOME, which the run writes)."""
    directory = tmp_path / "place"
    directory.mkdir()
    return directory


def _one_line(err: str, prefix: str = "jmo-doctor: error: ") -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    assert lines[0].startswith(prefix), err
    return lines[0]


def _table(*rows: tuple[Any, ...]) -> list[Any]:
    """``(id, *values)`` rows as pytest params with readable ids."""
    return [pytest.param(*values, id=case_id) for case_id, *values in rows]


def _snapshot(root: Path) -> Snapshot:
    """Every entry under ``root``: kind, inode, device number, content; links not followed."""
    return {str(entry.relative_to(root)): _state(entry) for entry in sorted(root.rglob("*"))}


def _state(entry: Path) -> tuple[int, int, int, bytes | None]:
    status = entry.lstat()
    content = entry.read_bytes() if stat.S_ISREG(status.st_mode) else None
    return stat.S_IFMT(status.st_mode), status.st_ino, status.st_rdev, content


def _node(path: Path, device: int) -> Path:
    os.mknod(path, 0o666 | stat.S_IFCHR, device)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket_at(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays; nothing listens
    return path


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[list[bytes]]:
    """A reader on the FIFO at ``path`` for the block; what it read is in the list."""
    received: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield received
    finally:
        reader.join(timeout=20)


@contextlib.contextmanager
def _terminal() -> Iterator[tuple[Path, list[bytes]]]:
    """A pseudo-terminal of our own: its path, and what arrived at the other end."""
    master, slave = os.openpty()
    received: list[bytes] = []
    done = threading.Event()

    def drain() -> None:
        while True:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    received.append(os.read(master, 65536))
                except OSError:  # the other end is gone
                    return
            elif done.is_set():
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield Path(os.ttyname(slave)), received
    finally:
        done.set()
        reader.join(timeout=20)
        os.close(slave)
        os.close(master)


# --- item 1: --output onto what is not a regular file --------------------------------------


def _link_to(place: Path, make_target: Callable[[Path], Any]) -> Path:
    """A symbolic link in ``place`` to what ``make_target`` makes (or to nothing)."""
    target = place / "pointed-to"
    make_target(target)
    (place / "link").symlink_to(target)
    return place / "link"


OUTPUT_REFUSED = _table(
    ("device-full", lambda p: _node(p / "full", FULL), "No space left"),
    ("fifo-no-reader", lambda p: _fifo(p / "fifo"), "nothing is reading"),
    ("symlink-to-a-file", lambda p: _link_to(p, lambda t: t.write_text("keep\n")), "symbolic"),
    ("dangling-symlink", lambda p: _link_to(p, lambda t: None), "symbolic link"),
    ("symlink-to-a-device", lambda p: _link_to(p, lambda t: _node(t, NULL)), "symbolic link"),
    ("symlink-to-a-directory", lambda p: _link_to(p, Path.mkdir), "symbolic link"),
    ("directory", lambda p: p, "is a directory"),
    ("socket", lambda p: _socket_at(p / "sock"), "a socket"),
    ("missing-directory", lambda p: p / "missing" / "r.json", "No such file"),
)


@pytest.mark.timeout(30)  # a FIFO opened without O_NONBLOCK would wait for ever
@pytest.mark.parametrize(("make", "expected"), OUTPUT_REFUSED)
def test_output_refused_keeps_the_report_and_touches_nothing(
    make: Callable[[Path], Path], expected: str, place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = make(place)
    before = _snapshot(place)
    assert run_cli([*OFFLINE_RUN, "--format", "json", "--output", str(target)]) == 3
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert f"cannot write {target}: " in line and expected in line
    assert json.loads(captured.out)["tool"]["name"] == "jmo-doctor"  # not lost: on stdout
    assert _snapshot(place) == before


def _run_to(target: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run_cli([*OFFLINE_RUN, "--format", "json", "--output", str(target)])
    captured = capsys.readouterr()
    assert code != 3, captured.err
    assert captured.out == "" and str(target) in captured.err and "error" not in captured.err
    return code, captured.err


def test_output_to_a_device_writes_it_and_leaves_the_node(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = _node(place / "null", NULL)
    before = node.lstat()
    _run_to(node, capsys)
    after = node.lstat()
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == NULL
    assert after.st_ino == before.st_ino  # the same node: nothing was renamed over it
    assert [entry.name for entry in place.iterdir()] == ["null"]  # no temp file left


@pytest.mark.timeout(30)
def test_output_to_a_fifo_with_a_reader_goes_through_it(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = place / "fifo"
    os.mkfifo(fifo)
    with _reading(fifo) as received:
        code, _ = _run_to(fifo, capsys)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(b"".join(received))["exit_code"] == code


@pytest.mark.timeout(30)
def test_output_to_a_terminal_is_written_there(capsys: pytest.CaptureFixture[str]) -> None:
    with _terminal() as (tty, received):
        _run_to(tty, capsys)
        assert stat.S_ISCHR(tty.lstat().st_mode)
    assert b'"schema_version": 1' in b"".join(received)


@pytest.mark.parametrize("exists", [False, True], ids=["new-file", "existing-file"])
def test_output_to_a_regular_file_is_replaced_whole(
    exists: bool, place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = place / "r.json"
    if exists:
        target.write_text("old report\n")
    code, _ = _run_to(target, capsys)
    assert json.loads(target.read_text())["exit_code"] == code
    assert [entry.name for entry in place.iterdir()] == ["r.json"]


# --- items 4 and 9: what sits at run.lock; a full data directory ---------------------------


def _plant_symlink(lock_file: Path, place: Path) -> None:
    (place / "precious").write_text("keep me\n")
    lock_file.symlink_to(place / "precious")


def _plant_dangling_symlink(lock_file: Path, place: Path) -> None:
    lock_file.symlink_to(place / "would-be-created")


def _plant_hard_link(lock_file: Path, place: Path) -> None:
    (place / "precious").write_text("keep me\n")
    os.link(place / "precious", lock_file)


def _plant_someone_elses(lock_file: Path, place: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    lock_file.write_text("keep me\n")
    os.chown(lock_file, 65534, 65534)


LOCK_PLANTED: list[Any] = [
    pytest.param(_plant_symlink, "is a symbolic link", id="symlink-to-a-file"),
    pytest.param(_plant_dangling_symlink, "is a symbolic link", id="dangling-symlink"),
    pytest.param(lambda lf, p: os.mkfifo(lf), "is a named pipe", id="fifo"),
    pytest.param(lambda lf, p: lf.mkdir(), "is a directory", id="directory"),
    pytest.param(lambda lf, p: _node(lf, NULL), "is a character device", id="char-device"),
    pytest.param(_plant_hard_link, "has other names (hard links)", id="hard-link"),
    pytest.param(_plant_someone_elses, "belongs to another user", id="someone-elses-file"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("plant", "expected"), LOCK_PLANTED)
def test_what_sits_at_the_lock_is_named_and_left_alone(
    plant: Callable[[Path, Path], Any],
    expected: str,
    data_home: Path,
    place: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_home.mkdir(mode=0o700)
    lock_file = lock.lock_path(data_home)
    plant(lock_file, place)
    before = (_state(lock_file), _snapshot(place))
    code = run_cli([*OFFLINE_RUN, "--format", "json"])
    captured = capsys.readouterr()
    # the diagnosis still runs (the lock is only lost); nothing planted is touched
    assert code == json.loads(captured.out)["exit_code"]
    line = _one_line(captured.err, "jmo-doctor: warning: ")
    assert f"the lock file {lock_file} {expected}" in line and "remove it" in line
    assert (_state(lock_file), _snapshot(place)) == before


@pytest.fixture
def full_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """JMO_DOCTOR_HOME on a 16 KiB tmpfs filled to the last byte (root; else skipped)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'not root'}")
    try:
        home = mount_point / "data"
        home.mkdir(mode=0o700)
        filler = os.open(mount_point / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):  # unbuffered: ENOSPC ends the loop
            while True:
                os.write(filler, b"\0" * 4096)
        os.close(filler)
        monkeypatch.setenv("JMO_DOCTOR_HOME", str(home))
        yield home
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


@pytest.mark.parametrize(
    ("history", "said"),
    [([], "history not saved"), (["--no-history"], None)],
    ids=["with-history", "no-history"],
)
def test_a_full_data_directory_costs_notes_not_the_diagnosis(
    history: list[str], said: str | None, full_data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli([*KPJ_ONLY, *history, "--format", "json"])
    captured = capsys.readouterr()
    assert code == json.loads(captured.out)["exit_code"] != 3
    assert "internal error" not in captured.err and "Traceback" not in captured.err
    if said is None:
        assert captured.err == ""
    else:
        assert said in _one_line(captured.err, "jmo-doctor: ")
    assert lock.lock_path(full_data_home).read_text() == ""  # the pid note is lost


# --- items 6 and 12: report show of files that are not reports -----------------------------


def _report() -> dict[str, Any]:
    """A full report (probes with findings, causes): the golden captive-portal one."""
    return golden_document("captive-portal", "en")


def _with(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the report: set the field at ``path`` (``causes.0.fix``)."""

    def change(doc: dict[str, Any]) -> None:
        *parents, last = [int(step) if step.isdigit() else step for step in path.split(".")]
        container: Any = doc
        for step in parents:
            container = container[step]
        container[last] = value

    return change


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = [int(step) if step.isdigit() else step for step in path.split(".")]
        container: Any = doc
        for step in parents:
            container = container[step]
        del container[last]

    return change


# (change, what the one line must say after "not a valid jmo-doctor report (")
WRONG_SHAPES = _table(
    ("warnings-5", _with("warnings", 5), "warnings: expected an array"),
    ("warning-number", _with("warnings", [1]), "warnings[0]: expected a string"),
    ("evidence-5", _with("causes.0.evidence", 5), "causes[0].evidence: expected an array"),
    ("fix-numbers", _with("causes.0.fix", [1, 2]), "causes[0].fix[0]: expected a string"),
    ("fix-string", _with("causes.0.fix", "do it"), "causes[0].fix: expected an array"),
    ("rank-a", _with("causes.0.rank", "a"), "causes[0].rank: expected an integer"),
    ("rank-0", _with("causes.0.rank", 0), "causes[0].rank: must be at least 1"),
    ("rank-true", _with("causes.0.rank", True), "causes[0].rank: expected an integer"),
    ("cause-id-form", _with("causes.0.id", "No Such!"), "causes[0].id"),
    ("cause-title-empty", _with("causes.0.title", ""), "causes[0].title: must not be empty"),
    ("severity", _with("causes.0.severity", "fatal"), "causes[0].severity: must be one of"),
    ("article-4", _with("causes.0.article_section", 4), "causes[0].article_section"),
    ("confidence-null", _with("causes.0.confidence", None), "causes[0].confidence"),
    ("no-explanation", _without("causes.0.explanation"), "causes[0].explanation: missing"),
    ("cause-string", _with("causes.0", "offline"), "causes[0]: expected an object"),
    ("causes-object", _with("causes", {"0": {}}), "causes: expected an array"),
    ("metrics-list", _with("probes.1.metrics", [1, 2]), "probes[1].metrics: expected an object"),
    ("metric-string", _with("probes.1.metrics", {"x": "y"}), "probes[1].metrics.x: expected a"),
    ("metric-bool", _with("probes.1.metrics", {"a b": True}), 'probes[1].metrics["a b"]'),
    ("finding-data-5", _with("probes.1.findings.0.data", 5), "findings[0].data: expected an"),
    ("finding-no-code", _without("probes.1.findings.0.code"), "findings[0].code: missing"),
    ("finding-code-form", _with("probes.1.findings.0.code", "Bad"), "findings[0].code"),
    ("finding-target-7", _with("probes.1.findings.0.target", 7), "a string or null"),
    ("findings-string", _with("probes.1.findings", "none"), "probes[1].findings: expected"),
    ("probe-status", _with("probes.0.status", "great"), "probes[0].status: must be one of"),
    ("probe-id-form", _with("probes.0.id", "../x"), "probes[0].id"),
    ("probe-negative-time", _with("probes.0.duration_s", -1), "must be at least 0"),
    ("details-list", _with("probes.0.details", [1]), "probes[0].details: expected an object"),
    ("probe-null", _with("probes.0", None), "probes[0]: expected an object"),
    ("lang-xx", _with("run.lang", "xx"), 'run.lang: must be one of "id", "en"'),
    ("started-at-form", _with("run.started_at", "yesterday"), "run.started_at"),
    ("duration-string", _with("run.duration_s", "3"), "run.duration_s: expected a number"),
    ("run-id-empty", _with("run.id", ""), "run.id: must not be empty"),
    ("run-list", _with("run", []), "run: expected an object"),
    ("no-run", _without("run"), "run: missing"),
    ("exit-code-7", _with("exit_code", 7), "exit_code: must be one of 0, 1, 2, 3"),
    ("exit-code-true", _with("exit_code", True), "exit_code: must be one of"),
    ("status-fine", _with("status", "fine"), "status: must be one of"),
    ("all-clear-yes", _with("all_clear", "yes"), "all_clear: expected true or false"),
    ("redacted-no", _with("redacted", "no"), "redacted: expected true or false"),
    ("platform", _with("environment.platform", "amiga"), "environment.platform"),
    ("environment-string", _with("environment", "linux"), "environment: expected an object"),
    ("target-role", _with("targets", [{"name": "x", "host": "y", "role": "z"}]), "targets[0]"),
    ("other-tool", _with("tool.name", "other"), 'tool.name: must be "jmo-doctor"'),
    ("tool-null", _with("tool", None), "tool: expected an object"),
)


def _write_report(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "expected"), WRONG_SHAPES)
def test_a_report_of_the_wrong_shape_names_the_field(
    change: Callable[[dict[str, Any]], None],
    expected: str,
    place: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = _report()
    change(doc)
    path = _write_report(place / "r.json", doc)
    assert run_cli(["report", "show", str(path)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert f"{path}: not a valid jmo-doctor report (" in line and expected in line


def _raw(content: bytes) -> Callable[[Path], Path]:
    def make(place: Path) -> Path:
        (place / "r.json").write_bytes(content)
        return place / "r.json"

    return make


def _edited(old: str, new: str) -> Callable[[Path], Path]:
    """The full report's JSON text with its first ``old`` replaced by ``new``."""
    text = json.dumps(_report())
    assert old in text
    return _raw(text.replace(old, new, 1).encode())


def _version(value: str) -> Callable[[Path], Path]:
    return _edited('"schema_version": 1', f'"schema_version": {value}')


def _nested_inside(depth: int) -> Callable[[Path], Path]:
    text = json.dumps(_report())
    return _raw((text[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}").encode())


def _sparse(place: Path) -> Path:
    with open(place / "big.json", "wb") as big:
        big.truncate(document.MAX_REPORT_BYTES + 1)  # no disk used
    return place / "big.json"


BAD_FILES = _table(
    # what the file is
    ("missing", lambda p: p / "absent.json", "file not found"),
    ("directory", lambda p: p, "a directory, not a report"),
    ("fifo-no-writer", lambda p: _fifo(p / "fifo"), "nothing wrote to"),
    ("endless-device", lambda p: _node(p / "zero", ZERO), "too big"),
    ("empty-device", lambda p: _node(p / "null", NULL), "empty"),
    ("socket", lambda p: _socket_at(p / "sock"), "it is a socket"),
    ("over-16-MiB", _sparse, "too big"),
    # what it holds
    ("empty", _raw(b""), "empty"),
    ("blank", _raw(b" \n\t\n"), "empty"),
    ("not-json", _raw(b"not json"), "not a JSON file"),
    ("not-utf8", _raw(b"\xff\xfe{}"), "not UTF-8"),
    ("top-level-array", _raw(b"[1, 2]"), "not a jmo-doctor report"),
    ("top-level-string", _raw(b'"report"'), "not a jmo-doctor report"),
    ("top-level-null", _raw(b"null"), "not a jmo-doctor report"),
    ("no-schema-version", _raw(b'{"hello": 1}'), "no schema_version"),
    ("nested-10000-deep", _raw(b"[" * 10000 + b"]" * 10000), "nested more than"),
    ("nested-100-deep-inside", _nested_inside(100), "nested more than"),
    ("nan", _edited('"duration_s": 3.2', '"duration_s": NaN'), "NaN is not"),
    ("infinity", _edited('"duration_s": 3.2', '"duration_s": -Infinity'), "Infinity is not"),
    ("1e999", _edited('"duration_s": 3.2', '"duration_s": 1e999'), "too large"),
    ("5000-digits", _edited('"exit_code": 2', '"exit_code": ' + "9" * 5000), "digits"),
    ("lone-surrogate", _edited('"summary": "', '"summary": "\\ud800'), "surrogate"),
    # its version
    ("schema-version-minus-5", _version("-5"), "versions start at 1"),
    ("schema-version-0", _version("0"), "versions start at 1"),
    ("schema-version-string", _version('"1"'), "not a whole number"),
    ("schema-version-true", _version("true"), "not a whole number"),
    ("schema-version-1.5", _version("1.5"), "not a whole number"),
    ("schema-version-null", _version("null"), "not a whole number"),
    ("schema-version-2", _version("2"), "newer than this"),
)


@pytest.mark.timeout(30)  # a FIFO opened without O_NONBLOCK, or /dev/zero read whole, hangs
@pytest.mark.parametrize(("make", "expected"), BAD_FILES)
def test_a_file_that_is_not_a_report_is_one_line(
    make: Callable[[Path], Path], expected: str, place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make(place)
    assert run_cli(["report", "show", str(path)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"jmo-doctor: error: {path}: ") and expected in line


def _old_report() -> dict[str, Any]:
    """A report as the first versions wrote it: none of the later optional fields."""
    doc = _report()
    for field in ("targets", "all_clear", "warnings"):
        del doc[field]
    for probe in doc["probes"]:
        del probe["details"]
    for cause in doc["causes"]:
        del cause["severity"]
    return doc


def _with_additions() -> dict[str, Any]:
    """Schema version 1 allows new fields: a newer jmo-doctor's report still shows."""
    doc = _report()
    doc["run"]["data_bytes"] = 1234
    doc["future_field"] = {"anything": [1, "two", None]}
    doc["probes"][0]["future"] = True
    doc["causes"][0]["links"] = ["https://example.invalid/"]
    return doc


VALID_REPORTS: list[Any] = [
    *[
        pytest.param(lambda n=name, lang=lang: golden_document(n, lang), id=f"golden-{name}-{lang}")
        for name in sorted(SCENARIOS)
        for lang in ("id", "en")
    ],
    pytest.param(_old_report, id="old-report-without-optional-fields"),
    pytest.param(_with_additions, id="report-with-new-fields"),
]


@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
@pytest.mark.parametrize("make", VALID_REPORTS)
def test_a_valid_report_still_shows(
    make: Callable[[], dict[str, Any]],
    output_format: str,
    place: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _write_report(place / "r.json", make())
    assert run_cli(["report", "show", str(path), "--format", output_format]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.strip()


def test_a_report_with_a_byte_order_mark_shows(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = place / "r.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_report()).encode())
    assert run_cli(["report", "show", str(path)]) == 0
    assert verdict_of(capsys.readouterr().out).startswith("Verdict:")


@pytest.mark.timeout(30)
def test_a_report_piped_through_a_fifo_shows(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = place / "fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(_report()))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert run_cli(["report", "show", str(fifo)]) == 0
    writer.join(timeout=20)
    assert verdict_of(capsys.readouterr().out).startswith("Verdict:")


# --- item 12: the small validator agrees with jsonschema ------------------------------------

SCHEMA = schema.report_schema()
REFERENCE = jsonschema.Draft202012Validator(SCHEMA)


def _disagreement(doc: Any) -> str | None:
    """How our validator and jsonschema differ on ``doc`` (validity, and where), or None."""
    ours = schema.first_problem(doc)
    theirs = list(REFERENCE.iter_errors(doc))
    if (ours is None) != (not theirs):
        shown = [f"{list(e.absolute_path)}: {e.message[:80]}" for e in theirs[:3]]
        return f"ours: {ours}; jsonschema: {shown or 'valid'}"
    if ours is None:
        return None
    places = {tuple(error.absolute_path) for error in theirs}
    # for a missing field we point at the field, jsonschema at the object that lacks it
    if ours.path in places or (ours.message == "missing" and ours.path[:-1] in places):
        return None
    return f"ours at {ours.path}, jsonschema at {sorted(places, key=str)}"


def _changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = _report()
    change(doc)
    return doc


AGREEMENT_TABLE: list[Any] = [
    *[pytest.param(param.values[0], id=f"valid-{param.id}") for param in VALID_REPORTS],
    *[
        pytest.param(lambda c=param.values[0]: _changed(c), id=f"invalid-{param.id}")
        for param in WRONG_SHAPES
    ],
]


@pytest.mark.parametrize("make", AGREEMENT_TABLE)
def test_validator_agrees_with_jsonschema_on_the_table(make: Callable[[], Any]) -> None:
    assert _disagreement(make()) is None


def _places(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path in a document, containers included."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, (*path, index))


REPLACEMENTS = [5, -1, 0, 1.0, 2.5, "", "x", "ok", "id", None, True, False, [], ["x"], [1], {}]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_validator_agrees_with_jsonschema_on_every_field_replaced_or_removed(name: str) -> None:
    base = golden_document(name, "en")
    base["targets"] = [
        {"name": "bpjs-www", "host": "www.bpjsketenagakerjaan.go.id", "role": "bpjs"}
    ]
    disagreements: list[str] = []
    for path in list(_places(base)):
        variants: list[Any] = []
        for value in REPLACEMENTS:
            variants.append(_replaced(base, path, value))
        if path and isinstance(path[-1], str):
            variants.append(_replaced(base, path, _REMOVE))
        for doc in variants:
            if (problem := _disagreement(doc)) is not None:
                disagreements.append(f"{path}: {problem}")
    assert not disagreements, "\n".join(disagreements[:10])


_REMOVE = object()


def _replaced(base: dict[str, Any], path: tuple[str | int, ...], value: Any) -> Any:
    if not path:
        return copy.deepcopy(value) if value is not _REMOVE else {}
    doc = copy.deepcopy(base)
    container: Any = doc
    for step in path[:-1]:
        container = container[step]
    if value is _REMOVE:
        del container[path[-1]]
    else:
        container[path[-1]] = copy.deepcopy(value)
    return doc


def test_the_shipped_schema_uses_only_what_the_validator_knows() -> None:
    unknown: set[str] = set()

    def walk(node: Any) -> None:
        unknown.update(set(node) - schema.KEYWORDS - schema.ANNOTATIONS)
        for name in ("properties", "$defs"):
            for sub in node.get(name, {}).values():
                walk(sub)
        for name in ("items", "additionalProperties"):
            if isinstance(node.get(name), dict):
                walk(node[name])

    walk(SCHEMA)
    assert not unknown, f"teach jmo_doctor/report/schema.py these keywords: {sorted(unknown)}"


def test_the_schema_is_read_not_copied() -> None:
    """The validator follows the shipped file as it is now (a cause id pattern, a new
    field), and whatever schema it is given: a change there needs none here."""
    shipped = resources.files("jmo_doctor.data").joinpath("report.schema.json")
    assert schema.report_schema() == json.loads(shipped.read_text("utf-8"))
    doc = _changed(_with("run.lang", "xx"))
    widened = copy.deepcopy(SCHEMA)
    widened["properties"]["run"]["properties"]["lang"]["enum"].append("xx")
    assert schema.first_problem(doc) is not None and not REFERENCE.is_valid(doc)
    assert schema.first_problem(doc, widened) is None
    assert jsonschema.Draft202012Validator(widened).is_valid(doc)
