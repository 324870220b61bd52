"""nodekeeper core: keeps one storage node running and up to date.

The core is headless: it never imports Qt and runs on servers and
single-board computers alike.
"""

__version__ = "0.2.0"
