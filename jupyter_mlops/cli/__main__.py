"""``python -m jupyter_mlops.cli``."""

import sys

from jupyter_mlops.cli.main import main

sys.exit(main())
