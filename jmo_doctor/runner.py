"""Runs the selected probes concurrently under a hard whole-run deadline.

The event loop lives in a daemon thread; the calling thread waits for it until the
deadline and then takes whatever has finished. So even a probe that blocks the event loop
or a thread stuck in a library cannot keep the run past its deadline. Probes that have
not finished by then are reported as ``probe.timeout``; crashes as ``probe.crashed`` — a
``TimeoutError`` the probe raises itself (``socket.timeout`` from a library) included: only
the runner's own deadline is a timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from jmo_doctor.api import Fact, ProbeResult, Status
from jmo_doctor.context import ProbeRunContext, RunShared, make_finding
from jmo_doctor.early import certain_cause, unstable_link
from jmo_doctor.facts import facts_from
from jmo_doctor.i18n import words
from jmo_doctor.plugins import LoadedProbe
from jmo_doctor.threads import EXECUTOR

#: Probes are cancelled this long before the deadline so their results can be collected.
CANCEL_MARGIN_S = 0.25
#: The calling thread stops waiting this long after the deadline, whatever happens.
HARD_STOP_GRACE_S = 0.5

#: The findings the runner itself makes; their words are in the words catalogue.
_MESSAGES = {
    code: words()[code]
    for code in (
        "probe.timeout",
        "probe.crashed",
        "probe.interrupted",
        "probe.skipped",
        "probe.not_needed",
    )
}
RUNNER_MESSAGES = _MESSAGES


@dataclass
class ProbeState:
    """Live state of one probe, for the progress display."""

    id: str
    started: float | None = None
    fraction: float | None = None
    note: str = ""
    result: ProbeResult | None = None


class Board:
    """Thread-safe record of what has started and finished."""

    def __init__(self, probes: Sequence[LoadedProbe]) -> None:
        self._lock = threading.Lock()
        self.states = {p.id: ProbeState(p.id) for p in probes}

    def start(self, probe_id: str) -> None:
        with self._lock:
            self.states[probe_id].started = time.monotonic()

    def progress(self, probe_id: str, fraction: float | None, note: str) -> None:
        with self._lock:
            state = self.states[probe_id]
            state.fraction, state.note = fraction, note

    def finish(self, result: ProbeResult) -> None:
        with self._lock:
            state = self.states[result.id]
            if state.result is None:
                state.result = result

    def snapshot(self) -> list[ProbeState]:
        with self._lock:
            return [replace(s) for s in self.states.values()]


def error_result(
    probe_id: str, code: str, lang: str, duration: float, **data: object
) -> ProbeResult:
    finding = make_finding(_MESSAGES, lang, code, None, probe=probe_id, **data)
    return ProbeResult(
        id=probe_id,
        status=Status.ERROR,
        summary=finding.message,
        findings=(finding,),
        duration_s=round(duration, 3),
    )


def skipped_result(probe_id: str, lang: str, reason: str) -> ProbeResult:
    message = make_finding(_MESSAGES, lang, "probe.skipped", reason=reason).message
    return ProbeResult(id=probe_id, status=Status.SKIP, summary=message)


def not_needed_result(probe_id: str, lang: str, cause: str, title: str) -> ProbeResult:
    """A slow probe skipped because the first wave made ``cause`` certain (see ``early``).
    Its finding is a ``probe.skipped`` one, as every runner skip is, with the reason."""
    worded = make_finding(_MESSAGES, lang, "probe.not_needed", title=title)
    finding = replace(worded, code="probe.skipped", data={"reason": "not_needed", "cause": cause})
    return ProbeResult(id=probe_id, status=Status.SKIP, summary=worded.message, findings=(finding,))


async def _guarded(loaded: LoadedProbe, shared: RunShared, board: Board, verbose: bool) -> None:
    board.start(loaded.id)
    ctx = ProbeRunContext(shared, loaded.id, loaded.messages)
    started = time.monotonic()
    limit = shared.remaining() - CANCEL_MARGIN_S
    if loaded.timeout is not None:
        limit = min(limit, loaded.timeout)
    deadline = asyncio.timeout(max(0.0, limit))
    try:
        async with deadline:
            result = await loaded.probe.run(ctx)
        if not isinstance(result, ProbeResult):
            raise TypeError(f"run() returned {type(result).__name__}, not ProbeResult")
        result = replace(result, id=loaded.id, duration_s=round(time.monotonic() - started, 3))
    except TimeoutError as error:
        elapsed = time.monotonic() - started
        if deadline.expired():
            result = error_result(loaded.id, "probe.timeout", shared.lang, elapsed, seconds=elapsed)
        else:
            # the probe's own TimeoutError (socket.timeout from a library, say) is a crash
            # with its own words, not the runner's deadline
            result = _crashed(loaded.id, error, shared.lang, elapsed, verbose)
    except Exception as error:
        result = _crashed(loaded.id, error, shared.lang, time.monotonic() - started, verbose)
    board.finish(result)


def _crashed(
    probe_id: str, error: BaseException, lang: str, duration: float, verbose: bool
) -> ProbeResult:
    if verbose:
        traceback.print_exception(error)
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return error_result(probe_id, "probe.crashed", lang, duration, error=text)


async def _run_all(probes: Sequence[LoadedProbe], shared: RunShared, board: Board) -> None:
    asyncio.get_running_loop().set_default_executor(EXECUTOR)
    verbose = shared.options.verbose
    # Slow probes load the link (bandwidth): run alongside the others, they would make
    # the latency and loss figures measure our own traffic. So they go second.
    first, slow = [p for p in probes if not p.slow], [p for p in probes if p.slow]

    async def in_first_wave(loaded: LoadedProbe) -> None:
        await _guarded(loaded, shared, board, verbose)
        # an unstable link is told as soon as it is certain (once tcp is in): the probes
        # still waiting on the link stop waiting for what only its losses delay
        if not shared.known(Fact.unstable_link()) and _unstable(board, shared):
            shared.publish(Fact.unstable_link())

    preparing = [asyncio.ensure_future(_prepared(p, shared)) for p in slow]
    await asyncio.gather(*(in_first_wave(p) for p in first))
    for task in preparing:  # run() awaits the shared lookups still going, if it needs them
        task.cancel()
    for fact in facts_from([s.result for s in board.snapshot() if s.result is not None]):
        shared.publish(fact)
    if slow and (certain := _certain(board, shared)) is not None:
        for loaded in slow:
            board.finish(not_needed_result(loaded.id, shared.lang, *certain))
        return
    await asyncio.gather(*(_guarded(p, shared, board, verbose) for p in slow))


async def _prepared(loaded: LoadedProbe, shared: RunShared) -> None:
    """A slow probe's ``prepare`` (if it has one), alongside the first wave; never an
    obstacle to the run."""
    prepare = getattr(loaded.probe, "prepare", None)
    if not callable(prepare):
        return
    try:
        await prepare(ProbeRunContext(shared, loaded.id, loaded.messages))
    except Exception:
        if shared.options.verbose:
            traceback.print_exc()


def _certain(board: Board, shared: RunShared) -> tuple[str, str] | None:
    """The cause the first wave made certain, if any; never an obstacle to the run."""
    done = [s.result for s in board.snapshot() if s.result is not None]
    try:
        return certain_cause(done, shared.config.targets, shared.lang)
    except Exception:  # a plug-in rule that fails here will fail visibly in the report
        if shared.options.verbose:
            traceback.print_exc()
        return None


def _unstable(board: Board, shared: RunShared) -> bool:
    """Whether the first wave made an unstable link certain; never an obstacle either."""
    done = [s.result for s in board.snapshot() if s.result is not None]
    try:
        return unstable_link(done, shared.config.targets, shared.config.latency)
    except Exception:
        if shared.options.verbose:
            traceback.print_exc()
        return False


def run_probes(
    probes: Sequence[LoadedProbe],
    shared: RunShared,
    on_tick: Callable[[Board], None] | None = None,
    tick_s: float = 0.1,
) -> list[ProbeResult]:
    """Run ``probes``; results come back in the order of ``probes``, one per probe."""
    board = Board(probes)
    shared.progress_sink = board.progress

    loop_failure: list[str] = []

    def loop_thread() -> None:
        try:
            asyncio.run(_run_all(probes, shared, board))
        except BaseException as error:  # results still missing are reported below
            loop_failure.append(f"{type(error).__name__}: {error}")
            if shared.options.verbose:
                traceback.print_exc()

    thread = threading.Thread(target=loop_thread, name="jmo-doctor-loop", daemon=True)
    thread.start()
    hard_stop = shared.deadline + HARD_STOP_GRACE_S
    while thread.is_alive():
        left = hard_stop - time.monotonic()
        if left <= 0 or shared.stop.is_set():  # a signal ends the run as the deadline does
            break
        thread.join(min(tick_s, left))
        if on_tick is not None:
            on_tick(board)
    results: list[ProbeResult] = []
    for state in board.snapshot():
        if state.result is not None:
            results.append(state.result)
        elif shared.stop.is_set():
            elapsed = time.monotonic() - (state.started or time.monotonic())
            results.append(error_result(state.id, "probe.interrupted", shared.lang, elapsed))
        elif loop_failure:
            results.append(
                error_result(state.id, "probe.crashed", shared.lang, 0.0, error=loop_failure[0])
            )
        else:
            elapsed = time.monotonic() - (state.started or time.monotonic())
            results.append(
                error_result(state.id, "probe.timeout", shared.lang, elapsed, seconds=elapsed)
            )
    return results
