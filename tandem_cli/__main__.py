"""`python -m tandem_cli ...` is `tandem ...`."""

import sys

from .main import main

sys.exit(main())
