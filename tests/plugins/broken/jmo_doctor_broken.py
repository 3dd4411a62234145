"""A plug-in that fails on import: jmo-doctor must warn once and go on."""

raise RuntimeError("this plug-in is broken on purpose")
