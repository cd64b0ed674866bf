"""The operator tooling shares the step code with the Lambdas (one implementation of each rule)."""

import sys
from pathlib import Path

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"


def ensure_importable() -> None:
    """Make ``functions/`` (packages ``failover`` and ``handlers``) importable."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
