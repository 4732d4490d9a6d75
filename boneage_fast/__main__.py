"""``python -m boneage_fast`` = the ``boneage`` command."""

import sys

from boneage_fast.cli import main

sys.exit(main())
