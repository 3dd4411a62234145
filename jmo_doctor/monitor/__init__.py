"""Monitoring: what hangs on a run from outside the engine.

The history of runs (``history``), the lock that keeps runs one at a time (``lock``),
notifications, webhooks and healthchecks pings (``notify``), and the cron or Termux
schedule that starts runs (``schedule``). The engine never imports this package; the
commands bring the two together.
"""
