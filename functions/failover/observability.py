"""The one Logger, Tracer and Metrics every step shares.

Service name and metrics namespace are the product's identity, fixed here rather than read from the
environment at import time; the log level comes from ``POWERTOOLS_LOG_LEVEL`` (a template parameter).
"""

import sys
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "regionshift"
NAMESPACE = "Regionshift"


class _CurrentStdout:
    """Write to whatever ``sys.stdout`` is at the time (Lambda: stdout; the emulator: the invocation's log)."""

    def write(self, text: str) -> Any:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


logger = Logger(service=SERVICE, logger_handler=None, stream=_CurrentStdout())  # type: ignore[arg-type]
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
