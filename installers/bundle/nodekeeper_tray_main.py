"""Entry point of the self-contained `nodekeeper-tray` bundle."""

import sys

from nodekeeper.tray.app import main

if __name__ == "__main__":
    sys.exit(main())
