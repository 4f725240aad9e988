"""`python -m daemon.cli`: how `supportd run` starts its pipeline processes (and\nthe same program as `supportd`: daemon/cli/front.py first)."""

import sys

from daemon.cli.front import main

sys.exit(main())
