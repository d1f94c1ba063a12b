"""What changed since the previous version: the figures, the sensors that came and went, and when it is large."""

from __future__ import annotations

import pytest

from lookout_diagnostics.domain.comparison import compare
from lookout_diagnostics.domain.identity import MetricsFigures, ModelIdentity
from lookout_diagnostics.domain.summary import DiagnosticsSummary, SensorContribution, Severity
from tests.support.summaries import summary


def shaped(
    rate: float, events: int, severity: Severity = Severity.WARNING, sensors: tuple[str, ...] = ("a", "b")
) -> DiagnosticsSummary:
    top = [SensorContribution(name=name, mean_contribution=0.1) for name in sensors]
    return summary().model_copy(
        update={"anomaly_rate": rate, "event_count": events, "severity": severity, "top_sensors": top}
    )


@pytest.mark.parametrize(
    ("before", "now", "large"),
    [
        (shaped(0.010, 5), shaped(0.011, 6), False),  # a little more
        (shaped(0.004, 5), shaped(0.010, 5), True),  # the rate more than doubled, by 0.6 points
        (shaped(0.001, 5), shaped(0.003, 5), False),  # tripled, but by 0.2 points: noise
        (shaped(0.010, 5), shaped(0.010, 12), True),  # events more than doubled, by 7
        (shaped(0.010, 1), shaped(0.010, 2), False),  # doubled, by one event
        (shaped(0.010, 5, Severity.WARNING), shaped(0.011, 5, Severity.CRITICAL), True),  # the severity changed
        (shaped(0.0, 0, Severity.OK), shaped(0.006, 1, Severity.OK), True),  # from nothing, by 0.6 points
    ],
)
def test_a_large_change_is_a_doubling_by_a_real_amount_or_a_new_severity(
    before: DiagnosticsSummary, now: DiagnosticsSummary, large: bool
) -> None:
    assert compare(now, before, "v2", "s3://b/k").large is large


def test_the_change_names_the_sensors_that_came_and_went_and_l4es_decision() -> None:
    identity = ModelIdentity(
        model_name="pump-7", model_arn="arn", model_version=3, confirmed=True,
        auto_promotion_result="MODEL_NOT_PROMOTED", auto_promotion_result_reason="worse than the active version",
        prior_metrics=MetricsFigures(labeled_events=4),
    )  # fmt: skip
    change = compare(
        shaped(0.02, 4, sensors=("a", "c")), shaped(0.01, 2, sensors=("a", "b")), "v2", "s3://b/k", identity
    )
    assert (change.sensors_entered, change.sensors_left) == (["c"], ["b"])
    assert change.anomaly_rate == (0.01, 0.02) and change.event_count == (2, 4)
    lines = change.text_lines()
    assert lines[0] == "Since v2 (a large change):"
    assert "top sensors entered: c; left: b" in lines[2]
    assert "promotion: MODEL_NOT_PROMOTED (worse than the active version)" in lines[3]
    assert change.subject_line() == "v2 1.0%->2.0% anomalous"
