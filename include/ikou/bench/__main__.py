import sys

from ikou.bench import main

sys.exit(main())
