"""``python -m ikou.cli``: the ``ikou`` command."""

import sys

from ikou.cli import main

sys.exit(main())
