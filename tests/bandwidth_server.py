"""A bandwidth test server: the http backend's endpoints and the Speedtest Mini protocol.

Run it where the test needs it (the lab's internet namespace, say)::

    python -m tests.bandwidth_server --host 10.201.0.40 --port 8080

or in-process on loopback with :class:`BandwidthServer`. Plain HTTP/1.1 with keep-alive:

- ``GET /__down?bytes=N``: N zero bytes (written from one buffer: memory stays flat).
- ``POST /__up``: reads and counts the body, answers ``{"bytes": N}`` — the server's own
  count of what arrived, which the client may trust over what it wrote to its socket.
- Speedtest Mini: ``/`` (index naming the upload extension), ``/speedtest/latency.txt``,
  ``/speedtest/random{N}x{N}.jpg`` (~2·N² bytes, as Ookla's images), ``POST
  /speedtest/upload.php`` (``size=N``).
- speedtest.net's own documents, served locally: ``/speedtest-config.php`` and
  ``/speedtest-servers-static.php`` (``/speedtest-servers.php``), the list naming this
  server. Absolute-form request targets (``GET http://www.speedtest.net/…``) are answered
  too, so speedtest-cli can be pointed here with ``http_proxy``.

Faults for tests (``--config-status 403``, ``--no-servers``) make those documents fail the
way the real ones do. The helpers at the end run it (and iperf3) in the network lab.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from tests.lab import Lab

CHUNK = 1 << 20
PACED_PIECE = 16 * 1024  # a TLS record's worth: a trickle comes in small pieces
_ZEROS = bytes(CHUNK)
_IMAGE = re.compile(r"^/speedtest/random(\d+)x(\d+)\.jpg$")
MINI_INDEX = b'<html><script>var upload_extension: "php";</script>Speedtest Mini</html>\n'

CONFIG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<settings>
<client ip="10.200.0.2" lat="-6.2000" lon="106.8166" isp="jmo-doctor lab" isprating="3.7"
 rating="0" ispdlavg="0" ispulavg="0" loggedin="0" country="ID" />
<server-config threadcount="4" ignoreids="" notonmap="" forcepingid="" preferredserverid=""/>
<download testlength="{length}" initialtest="250K" mintestsize="250K" threadsperurl="4"/>
<upload testlength="{length}" ratio="5" initialtest="0" mintestsize="32K" threads="2"
 maxchunksize="512K" maxchunkcount="50" threadsperurl="4"/>
</settings>
"""

SERVERS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<settings><servers>{servers}</servers></settings>
"""
SERVER_XML = (
    '<server url="http://{host}/speedtest/upload.php" lat="-6.2000" lon="106.8166" '
    'name="Jakarta" country="Indonesia" cc="ID" sponsor="jmo-doctor lab" id="{id}" '
    'host="{host}" />'
)


@dataclass
class Settings:
    advertised: str  # host:port the server list points at
    config_status: int = 200
    no_servers: bool = False
    test_length: int = 10
    up_status: int = 200  # the status /__up answers
    up_share: float = 1.0  # the share of the received bytes /__up says it got
    up_hang: bool = False  # read uploads, never answer
    received: int = 0  # upload bytes received so far
    requested: int = 0  # download bytes asked for so far (the most that was sent)
    first_down_bps: int = 0  # the first /__down answer trickles at this rate (0: full speed)
    downs: int = 0  # /__down requests answered so far
    speedtest_delay_s: float = 0.0  # the Mini server's transfers answer this late


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    stream_size: int = 0  # zero bytes to send after the body
    pace_bps: int = 0  # send them at this rate (0: as fast as the socket takes them)
    delay_s: float = 0.0  # wait this long before answering


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> int:
    """Read and count the body without keeping it."""
    count = 0

    async def take(size: int) -> None:
        nonlocal count
        while size > 0:
            data = await reader.read(min(size, CHUNK))
            if not data:
                raise asyncio.IncompleteReadError(b"", size)
            size -= len(data)
            count += len(data)

    if "chunked" in headers.get("transfer-encoding", "").lower():
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16):
            await take(size)
            await reader.readuntil(b"\r\n")
        while (await reader.readuntil(b"\r\n")) != b"\r\n":
            pass
    else:
        await take(int(headers.get("content-length", "0") or 0))
    return count


def route(settings: Settings, method: str, target: str, received: int) -> Answer:
    parts = urlsplit(target)  # absolute-form (proxy) targets carry scheme and host
    path = parts.path or "/"
    if path == "/__down":
        size = int((parse_qs(parts.query).get("bytes") or ["0"])[0])
        settings.requested += max(0, size)
        pace = settings.first_down_bps if settings.downs == 0 else 0
        settings.downs += 1
        return Answer(200, b"", "application/octet-stream", max(0, size), pace)
    if path == "/__up":
        count = int(received * settings.up_share)
        return Answer(settings.up_status, json.dumps({"bytes": count}).encode(), "application/json")
    if path == "/speedtest/upload.php":
        return Answer(200, f"size={received}".encode(), delay_s=settings.speedtest_delay_s)
    if path == "/speedtest/latency.txt":
        return Answer(200, b"test=test\n")
    if image := _IMAGE.match(path):
        side = int(image.group(1))
        size = 2 * side * side
        return Answer(200, b"", "image/jpeg", size, delay_s=settings.speedtest_delay_s)
    if path == "/speedtest-config.php":
        if settings.config_status != 200:
            return Answer(settings.config_status, b"Forbidden\n")
        text = CONFIG_XML.format(length=settings.test_length)
        return Answer(200, text.encode(), "text/xml")
    if path in ("/speedtest-servers-static.php", "/speedtest-servers.php"):
        one = SERVER_XML.format(host=settings.advertised, id=4242)
        text = SERVERS_XML.format(servers="" if settings.no_servers else one)
        return Answer(200, text.encode(), "text/xml")
    if path in ("/", "/index.html"):
        return Answer(200, MINI_INDEX, "text/html")
    return Answer(404, b"not found\n")


async def _send(writer: asyncio.StreamWriter, answer: Answer) -> None:
    await asyncio.sleep(answer.delay_s)
    length = len(answer.body) + answer.stream_size
    head = (
        f"HTTP/1.1 {answer.status} X\r\nContent-Type: {answer.content_type}\r\n"
        f"Content-Length: {length}\r\nCache-Control: no-store\r\n\r\n"
    )
    writer.write(head.encode() + answer.body)
    left = answer.stream_size
    piece = PACED_PIECE if answer.pace_bps else CHUNK
    while left > 0:
        writer.write(_ZEROS[: min(left, piece)])
        left -= piece
        await writer.drain()
        if answer.pace_bps:
            await asyncio.sleep(piece / answer.pace_bps)
    await writer.drain()


async def handle(
    settings: Settings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = [*lines[0].split(" "), "", ""][:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            received = await _read_body(reader, headers)
            settings.received += received
            if settings.up_hang and method == "POST":
                await asyncio.sleep(3600)
            await _send(writer, route(settings, method, target, received))
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(settings: Settings, host: str | list[str], port: int) -> asyncio.Server:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # a handler cancelled at shutdown ends quietly: on Python 3.11 the streams'
        # callback asks a cancelled task for its exception and logs a traceback
        with contextlib.suppress(asyncio.CancelledError):
            await handle(settings, reader, writer)

    return await asyncio.start_server(client, host, port, limit=CHUNK, backlog=512)


class BandwidthServer:
    """The server on loopback in a daemon thread of its own (its own event loop, so a
    probe under test can never starve it, nor it the probe)."""

    def __init__(self, host: str = "127.0.0.1", **settings: object) -> None:
        self.host = host
        self.settings = Settings(advertised="", **settings)  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def start() -> None:
            self._server = server = await serve(self.settings, host, 0)
            self.port = server.sockets[0].getsockname()[1]
            self.settings.advertised = f"{host}:{self.port}"
            ready.set()

        def run() -> None:
            self._loop.run_until_complete(start())
            self._loop.run_forever()
            self._server.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(5)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def shutdown() -> None:
            # handlers still running (a hung upload, say) are cancelled, not left to rot
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(5)
        self._loop.close()


# --- in the lab -----------------------------------------------------------------------------

#: speed.cloudflare.com's address in the lab: the default config's host, on a port of ours.
LAB_NAME, LAB_IP, LAB_IP6, LAB_PORT = "speed.cloudflare.com", "10.201.0.40", "fd00:201::40", 8080
LAB_URL = f"http://{LAB_NAME}:{LAB_PORT}"
REPO = Path(__file__).resolve().parent.parent


def start_in_lab(lab: Lab, *args: str) -> subprocess.Popen[str]:
    """This server in the lab's internet namespace, once it listens."""
    argv = [sys.executable, "-m", "tests.bandwidth_server", "--host", LAB_IP, "--host", LAB_IP6]
    proc = lab.popen_in(
        "internet",
        [*argv, "--port", str(LAB_PORT), *args],
        env={"PYTHONPATH": str(REPO)},
        cwd=str(REPO),
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"bandwidth server did not start: {line!r}")
    return proc


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def probe_env() -> dict[str, str]:
    """Environment that makes the ``bandwidth`` probe discoverable in the CLI even before
    pyproject.toml registers its entry point (a stand-in dist-info on PYTHONPATH)."""
    if any(e.name == "bandwidth" for e in entry_points(group="jmo_doctor.probes")):
        return {}
    shim = Path(tempfile.gettempdir()) / "jmo-bandwidth-entry-point"
    info = shim / "jmo_doctor_bandwidth_shim-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: jmo-doctor-bandwidth-shim\nVersion: 0\n"
    )
    (info / "entry_points.txt").write_text(
        "[jmo_doctor.probes]\nbandwidth = probes.bandwidth:BandwidthProbe\n"
    )
    return {"PYTHONPATH": str(shim)}


def iperf3(lab: Lab, seconds: float = 3.0, *, reverse: bool = False, streams: int = 1) -> float:
    """Mbit/s iperf3 measures from the phone (``reverse``: download) over ``streams``
    parallel streams. Nothing is omitted: with ``-O`` iperf3 counts the bytes queued in the
    bottleneck during the omitted second as received afterwards (+5 % at 1 Mbit/s)."""
    argv = ["iperf3", "-c", LAB_IP, "-t", str(seconds), "-P", str(streams), "-J"]
    proc = lab.run_in_phone([*argv, "-R"] if reverse else argv, timeout=seconds + 20)
    result = json.loads(proc.stdout)
    if "error" in result:
        raise RuntimeError(f"iperf3: {result['error']}")
    return float(result["end"]["sum_received"]["bits_per_second"]) / 1e6


def start_iperf3(lab: Lab) -> subprocess.Popen[str]:
    proc = lab.popen_in(
        "internet",
        ["iperf3", "-s", "-B", LAB_IP],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):  # until it listens
        probe = lab.run_in("internet", ["ss", "-Hltn", "sport = :5201"])
        if probe.stdout.strip():
            break
        threading.Event().wait(0.05)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", action="append", help="address to listen on (repeatable)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--config-status", type=int, default=200)
    parser.add_argument("--no-servers", action="store_true")
    parser.add_argument("--test-length", type=int, default=10)
    args = parser.parse_args()
    hosts = args.host or ["127.0.0.1"]
    settings = Settings(
        f"{hosts[0]}:{args.port}", args.config_status, args.no_servers, args.test_length
    )

    async def run() -> None:
        server = await serve(settings, hosts, args.port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
