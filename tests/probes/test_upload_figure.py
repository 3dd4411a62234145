"""The upload's figure when the data budget ends it within one time bin (gigabit fibre):
every confirmed byte over the time to the last confirmation, never "≥0.0 Mbit/s"; and
acknowledgements read late belong to the whole time since the last reading."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from probes.bandwidth._meter import BIN_S, Meter
from probes.bandwidth._upload import Confirmations, _Acks, _Request, acks_readable, upload_figure

START = 1000.0


def _done(*spans: tuple[float, float, float]) -> Confirmations:
    """Streams' confirmed bytes: (began, confirmed at, bytes), seconds after START."""
    done = Confirmations(Meter(START))
    for began, answered, count in spans:
        done.meter.add_span(START + began, START + answered, count)
        done.ends.append(START + answered)
    return done


def test_an_upload_over_within_one_bin_is_all_its_bytes_over_its_time() -> None:
    # 10 MB on four streams, each confirmed within 40-80 ms: 1 Gbit/s or so
    quarter = 2_500_000.0
    done = _done(
        (0.0, 0.04, quarter), (0.0, 0.06, quarter), (0.0, 0.07, quarter), (0.0, 0.08, quarter)
    )
    figure = upload_figure(done, START + 8.0)
    assert figure.bytes == 10_000_000
    assert abs(figure.mbps - 1000.0) < 0.01  # 10 MB in 80 ms: a lower bound
    assert abs(figure.seconds - 0.08) < 1e-6


def test_an_upload_of_whole_bins_keeps_the_usual_window() -> None:
    # 1 Mbit/s for 3 s on one stream: the whole-bin analysis, untouched
    done = _done((0.0, 3.0, 375_000.0))
    figure = upload_figure(done, START + 3.0)
    assert abs(figure.mbps - 1.0) < 0.01
    assert figure.seconds == 3.0 and len(figure.intervals) > 1  # windows, as ever


def test_nothing_confirmed_stays_nothing() -> None:
    done = Confirmations(Meter(START))
    assert upload_figure(done, START + 1.0).mbps == 0.0


def _read_all(sock: socket.socket, count: int) -> None:
    while count > 0 and (data := sock.recv(65536)):
        count -= len(data)


@pytest.mark.skipif(not acks_readable(), reason="the kernel does not tell acknowledged bytes")
def test_acknowledgements_read_late_are_spread_over_the_time_since_the_last_reading() -> None:
    # a real loopback connection; the reading comes 0.3 s late, as on a busy event loop
    with socket.create_server(("127.0.0.1", 0)) as server:
        sock = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with sock, peer:
            acks = _Acks()
            acks.sock = sock
            started = time.monotonic()
            acks.take()  # the last reading: now (it also paces the socket's writes)
            reader = threading.Thread(target=_read_all, args=(peer, 200_000))
            reader.start()
            sock.sendall(bytes(200_000))
            reader.join(10)
            time.sleep(0.3)
            request = _Request(started)
            request.sample(acks, Meter(started))
    filled = [count for count in request.acked.bins if count > 0]
    assert sum(request.acked.bins) == pytest.approx(200_000, abs=1)
    # over the 0.3 s since the last reading, not in the bin of the late one
    assert len(filled) >= int(0.3 / BIN_S) - 1, request.acked.bins
