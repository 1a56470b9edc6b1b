"""``python -m sim.cli``: the same as ``p2c``."""

import sys

from sim.cli.main import main

sys.exit(main())
