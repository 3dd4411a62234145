"""A real Pushgateway, node_exporter and Prometheus on loopback ports, for tests.

Each runs from its Debian package's binary with its data in a temporary directory;
Prometheus scrapes the Pushgateway (``honor_labels``, so the pushed job and instance
stay) and node_exporter's textfile collector every second. :func:`stack` stops every
process it started, whatever the test did.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests import promtool

SCRAPE_INTERVAL_S = 1
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Stack:
    pushgateway: str  # base URL
    node_exporter: str
    prometheus: str
    textfile_dir: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Prometheus' instant query API: the result vector."""
        with _client() as client:
            answer = client.get(self.prometheus + "/api/v1/query", params={"query": promql})
        answer.raise_for_status()
        body = answer.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def wait_for(self, promql: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The query's result once it is not empty (a scrape or two away)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(promql)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.25)


def _client() -> httpx.Client:
    return httpx.Client(timeout=5.0, trust_env=False)  # never through a proxy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.HTTPError), _client() as client:
            if client.get(url).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {READY_TIMEOUT_S:.0f} s")


def _prometheus_config(pushgateway: str, node_exporter: str) -> str:
    return f"""\
global:
  scrape_interval: {SCRAPE_INTERVAL_S}s
  scrape_timeout: {SCRAPE_INTERVAL_S}s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["{pushgateway}"]
  - job_name: node
    static_configs:
      - targets: ["{node_exporter}"]
"""


@contextlib.contextmanager
def stack(root: Path) -> Iterator[Stack]:
    binaries = {
        name: promtool.tool(name)
        for name in ("prometheus-pushgateway", "prometheus-node-exporter", "prometheus")
    }
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str], ready: str) -> None:
        log = root / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [binaries[name], *args], stdout=out, stderr=subprocess.STDOUT, cwd=root
            )
        processes.append(process)
        _wait_ready(ready, process, log)

    textfiles = root / "textfile"
    textfiles.mkdir()
    push_at, node_at, prom_at = (f"127.0.0.1:{free_port()}" for _ in range(3))
    (root / "prometheus.yml").write_text(_prometheus_config(push_at, node_at))
    try:
        start(
            "prometheus-pushgateway",
            [f"--web.listen-address={push_at}"],
            f"http://{push_at}/-/ready",
        )
        start(
            "prometheus-node-exporter",
            [
                f"--web.listen-address={node_at}",
                "--collector.disable-defaults",  # the slow ones read all of /proc and /sys
                "--collector.textfile",
                f"--collector.textfile.directory={textfiles}",
            ],
            f"http://{node_at}/metrics",
        )
        start(
            "prometheus",
            [
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address={prom_at}",
            ],
            f"http://{prom_at}/-/ready",
        )
        yield Stack(f"http://{push_at}", f"http://{node_at}", f"http://{prom_at}", textfiles)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
