"""`python -m daemon.cli`: how `supportd run` starts its pipeline processes."""

import sys

from daemon.cli.main import main

sys.exit(main())
