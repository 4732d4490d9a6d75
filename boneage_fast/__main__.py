"""``python -m boneage_fast`` = the ``boneage`` command."""

import sys

from boneage_fast.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports it
    sys.exit(main())
