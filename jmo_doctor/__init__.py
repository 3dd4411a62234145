"""jmo-doctor: finds out why the JHT balance does not show in the JMO app, and says how to fix it."""

__version__ = "0.1.0"
