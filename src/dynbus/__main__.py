"""``python -m dynbus`` is the ``dynbus`` command."""

import sys

from dynbus.cli import main

sys.exit(main())
