"""Xinqiao 心桥: chat service for school mental-health work."""

__version__ = "0.1.0"
