"""The ``store`` probe (``probe``) and what only it uses.

- ``_play``: the Google Play details page, read defensively
- ``_appstore``: the iTunes lookup answer, read defensively
- ``_versions``: app version strings made comparable
- ``_installed``: which JMO version is installed (option, adb, or on the phone)
"""

from probes.store.probe import StoreProbe

__all__ = ["StoreProbe"]
