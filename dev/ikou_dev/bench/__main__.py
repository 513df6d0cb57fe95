import sys

from ikou_dev.bench import main

sys.exit(main())
