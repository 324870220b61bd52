import sys

from nodekeeper.core.cli import main

sys.exit(main())
