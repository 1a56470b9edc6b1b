"""``python -m sim.reporting.licensing SCENARIO ...``: the same as ``p2c report``."""

import sys

from sim.reporting.licensing.cli import main

sys.exit(main())
