"""Regionshift operator tooling: the embedded emulator, drills and the ``regionshift`` command."""

__version__ = "0.1.0"
