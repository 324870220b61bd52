"""`nodekeeper init`: take over a storage node that Storj's own tooling runs today.

The parts: pure readers of what Storj installs (``units.py`` for the systemd
units, ``storjconfig.py`` for the node's ``config.yaml``, ``docker.py`` for
``docker inspect``, ``windows.py`` for the Windows services), the identity
search (``identity.py``), the pure plan (``plan.py``), detection on the
running system or under ``--root`` (``detect.py``), and the executor with
its journal (``execute.py``, ``journal.py``) that hands over and undoes.
Nothing here starts or stops the node itself: the old service manager stops
it, and nodekeeper's own service starts it again.
"""
