"""The ``system`` probe (``probe``) and what only it uses.

- ``_parse``: the formats the kernel and the tools write, read into plain data (pure)
- ``_scan``: reading interfaces and routes from psutil, /sys, /proc and ``ip`` (blocking)
- ``_paths``: the kernel's choice of route and source address per destination, which is
  what an Android app still has when the interface list is denied (sends nothing)
- ``_termux``: Wi-Fi and cellular facts from termux-api
"""

from probes.system.probe import SystemProbe

__all__ = ["SystemProbe"]
