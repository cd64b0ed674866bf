"""The emulator's own boto3 clients: one per service and region for the whole process.

Creating a client costs more than most emulated calls (its endpoint resolver, TLS context and event
handlers are built each time), and a drill's set-up and models would otherwise make dozens. A client
holds nothing of moto's state, so drills share them; the cache key includes what a client captures at
creation and what routes its calls: moto intercepting in process, or the endpoint and credentials of
moto's server (a client made for one must never serve the other, or it would reach real AWS).
"""

import os
import threading
from collections.abc import Callable
from typing import Any

import boto3

_CACHE: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def _routing() -> tuple[Any, ...]:
    from moto.core.models import botocore_stubber

    return (
        botocore_stubber.enabled,
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("MOTO_PORT"),
    )


def client(service: str, region: str) -> Any:
    """``boto3.client(service, region_name=region)``, made once."""
    return once(("boto3", service, region), lambda: boto3.client(service, region_name=region))


def handler_client(service: str, *, region_name: str, config: Any) -> Any:
    """The handlers' clients (``failover.clients.Clients``'s factory), with their own Config."""
    return once(
        ("handler", service, region_name), lambda: boto3.client(service, region_name=region_name, config=config)
    )


def once(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """The client ``make`` returns, made once for ``key`` under the current routing."""
    full = (*key, _routing())
    with _LOCK:
        if full not in _CACHE:
            _CACHE[full] = make()
        return _CACHE[full]
