"""jmo-doctor: finds why the JHT balance does not show in the JMO app, and how to fix it."""

__version__ = "0.1.0"
