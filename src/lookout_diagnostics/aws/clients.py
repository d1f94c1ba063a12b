"""boto3 clients, created on first use (never at import time) and cached per process."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode: exponential backoff with jitter on throttling and 5xx errors.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=60)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=RETRIES)


def reset() -> None:
    """Forget every client (tests start a new emulation between cases)."""
    client.cache_clear()
