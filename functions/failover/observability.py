"""The one Logger, Tracer and Metrics every step shares (Powertools reads service name, log level
and metrics namespace from the environment the template sets)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
