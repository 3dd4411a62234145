"""The ``bandwidth`` probe (``probe``) and what only it uses.

- ``_measurement``: what a backend hands the probe (phases, Report)
- ``_meter``: throughput from byte counts (binning, slow-start ramp cut, median)
- ``_budget``: when a phase stops: steady figure, data budget (``max_mb``), duration
- ``_http``: the default backend: parallel HTTP download streams, orchestration
- ``_upload``: uploads, timed by TCP acknowledgements where the kernel tells them
- ``_speedtest``: the optional Ookla backend (speedtest-cli)
- ``_responsiveness``: idle latency and latency under load, RPM
"""

from probes.bandwidth.probe import BandwidthProbe

__all__ = ["BandwidthProbe"]
