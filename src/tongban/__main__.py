import sys

from tongban.cli import main

sys.exit(main())
