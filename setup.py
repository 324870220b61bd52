"""Lists nodekeeper's packages for setuptools (everything else is in pyproject.toml).

The folders core/ and tray/ at the repository top are installed as
``nodekeeper.core`` and ``nodekeeper.tray``; ``nodekeeper`` is the only
top-level import name the distribution owns.
"""

from setuptools import find_packages, setup

PARTS = ("core", "tray")

setup(
    packages=[
        f"nodekeeper.{name}"
        for name in find_packages(include=[f"{part}{tail}" for part in PARTS for tail in ("", ".*")])
    ],
)
