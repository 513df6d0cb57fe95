"""``python -m ikou.bench`` is ``ikou bench``: the same top-level handler (one-line errors)."""

import sys

from ikou.cli import main

sys.exit(main(["bench", *sys.argv[1:]]))
