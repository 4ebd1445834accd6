"""``python -m aliexpress_onboarding``."""

import sys

from .cli import main

sys.exit(main())
