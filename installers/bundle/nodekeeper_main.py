"""Entry point of the self-contained `nodekeeper` bundle (see nodekeeper.core.selfexec)."""

import sys

from nodekeeper.core.selfexec import bundle_main

if __name__ == "__main__":
    sys.exit(bundle_main(sys.argv[1:]))
