"""``python -m dualad``: the same command line as the ``dualad`` console script."""
from .cli import main

raise SystemExit(main())
