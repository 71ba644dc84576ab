"""Baton: a terminal chat client in which several language models share one conversation."""

__version__ = "0.1.0"
