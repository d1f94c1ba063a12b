"""Scheduled: notice every model and version that finished since the last run, announce each once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lookout_diagnostics.lambda_events import EventBridgeEvent, parse
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.tracing import build_tracer
from lookout_diagnostics.usecases.poll import PollReport, poll
from lookout_diagnostics.usecases.poll_sitewise import SiteWiseReport

logger = Logger()
tracer = build_tracer()  # Powertools' Tracer only when tracing is on: the X-Ray SDK loads with it
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse(event=event, model=EventBridgeEvent)  # a scheduled event; its content carries nothing we use
    report = poll(get_settings())
    _count(report)
    if report.errors:
        logger.error("Some models could not be polled", extra={"errors": report.errors})
    logger.info("Poll finished", extra=report.model_dump(exclude={"errors"}))
    return report.model_dump(mode="json")


def _count(report: PollReport) -> None:
    sitewise = report.sitewise or SiteWiseReport()
    for name, value in (
        ("ModelsSeen", report.models_seen),
        ("ComputationModelsSeen", sitewise.computation_models_seen),
        ("Transitions", report.outcomes + sitewise.outcomes),
        ("AlertsSent", report.alerts_sent + sitewise.alerts_sent),
        ("EventsPut", report.events_put + sitewise.events_put),
        ("UncoveredModels", len(report.uncovered_models)),
        ("SafetyNetAlerts", report.safety_net_alerts),
        ("PollErrors", len(report.errors) + len(sitewise.errors)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if report.bucket_announcing is False:
        metrics.add_metric(name="BucketNotAnnouncing", unit=MetricUnit.Count, value=1)
