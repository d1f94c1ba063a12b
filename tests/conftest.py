"""Shared fixtures: an emulated AWS (moto) with the stack's pieces and a fake Lookout for Equipment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws

from lookout_diagnostics import settings
from lookout_diagnostics.aws import clients
from tests.support.botocore_fake import skip_retry_sleeps
from tests.support.fake_lookout import FakeLookout
from tests.support.fake_sitewise import FakeSiteWise
from tests.support.stack import EmulatedStack, create_stack

# Handlers build Powertools' Logger and Metrics when imported (at collection): configure them first.
os.environ.update(
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_SERVICE_NAME="lookout-diagnostics",
    POWERTOOLS_METRICS_NAMESPACE="LookoutDiagnostics",
)

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real credentials, no real region, fresh clients and settings for every test."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clients.reset()
    for getter in (settings.get_settings, settings.get_thresholds, settings.get_stack_defaults):
        getter.cache_clear()
    yield
    clients.reset()
    for getter in (settings.get_settings, settings.get_thresholds, settings.get_stack_defaults):
        getter.cache_clear()


@pytest.fixture
def retry_sleeps() -> Iterator[list[float]]:
    """botocore retries without waiting; yields the delays it asked for."""
    with skip_retry_sleeps() as delays:
        yield delays


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def lookout(aws: None, retry_sleeps: list[float]) -> Iterator[FakeLookout]:
    """A fake L4E answering every lookoutequipment call, checked against botocore's service model."""
    with FakeLookout(region=REGION) as fake:
        yield fake


@pytest.fixture
def sitewise(aws: None, retry_sleeps: list[float]) -> Iterator[FakeSiteWise]:
    """A fake AWS IoT SiteWise answering every iotsitewise call, checked against botocore's service model."""
    with FakeSiteWise(region=REGION) as fake:
        yield fake


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> EmulatedStack:
    """Bucket, topic with an SQS subscriber, and ledger table; the function's environment set."""
    created = create_stack()
    for name, value in created.environment().items():
        monkeypatch.setenv(name, value)
    return created
