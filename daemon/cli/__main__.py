"""`python -m daemon.cli`: how `supportd run` starts its pipeline processes, and the
same program as `supportd` (daemon/cli/front.py first: the thin pipe)."""

import sys

from daemon.cli.front import main

sys.exit(main())
