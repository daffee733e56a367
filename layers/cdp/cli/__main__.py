"""`python -m cdp.cli`: the same as the `cdp` command."""

import sys

from cdp.cli import main

sys.exit(main())
