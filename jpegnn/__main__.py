"""``python -m jpegnn ...`` is the same as the ``jpegnn`` console script."""

import sys

from jpegnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
