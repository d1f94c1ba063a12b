"""A Lookout for Equipment training workflow's failure: alerted once, returned as the Fail state's error and cause."""

from __future__ import annotations

from lookout_diagnostics.domain.alert_keys import workflow_key
from lookout_diagnostics.domain.alerts import workflow_failure_alert
from lookout_diagnostics.domain.failures import Failure, Lenient, WorkflowFailure, describe_failure
from lookout_diagnostics.domain.outcomes import training_failed
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.once import send_once


class _Created(Lenient):
    ModelArn: str | None = None


class _Described(Lenient):
    FailedReason: str | None = None


class ExecutionState(Lenient):
    """What the failure step reads of the execution's state: the model, if one was created, and why it failed."""

    ModelName: str | None = None
    training: _Created | None = None  # StartTraining's result
    failed: _Described | None = None  # DescribeModel's answer when L4E reported FAILED


def report_failure(
    state: ExecutionState, error: str, cause: str, execution_arn: str, settings: Settings
) -> WorkflowFailure:
    """Alert once about how the execution failed; return the Fail state's error and cause.

    A failed training is the model's outcome, which the status poller may see too: it has the
    outcome's key. Any other failure belongs to this execution alone.
    """
    failure = describe_failure(error, cause, state.failed.FailedReason if state.failed else None)
    model_name = state.ModelName
    model_arn = state.training.ModelArn if state.training else None
    key = workflow_key(execution_arn)
    if failure.Error is Failure.TRAINING_FAILED and model_name and model_arn:
        key = training_failed(model_name, model_arn, failure.Cause).alert_key
    send_once(
        settings,
        key,
        workflow_failure_alert(model_name, failure.Error, failure.Cause, failure.Advice, execution_arn),
    )
    return failure
