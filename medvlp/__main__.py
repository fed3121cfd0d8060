"""`python -m medvlp` runs the command line."""

import sys

from medvlp.cli import main

sys.exit(main())
