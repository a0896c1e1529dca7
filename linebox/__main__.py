import sys

from linebox.cli import main

sys.exit(main())
