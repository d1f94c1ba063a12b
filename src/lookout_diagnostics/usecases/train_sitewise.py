"""The AWS IoT SiteWise training workflow's steps: start a training, follow its execution, end in one alert.

- start: validate the input, ExecuteAction with the training action definition and a client token derived
  from the execution (a retried start trains once), evaluation results to the stack's bucket;
- check: find the execution the action started (SiteWise answers ExecuteAction with an action id only) and
  its state;
- finish: the evaluation file under the training's prefix, summarised and alerted through the same
  once-only gate as the S3 trigger (whichever comes first sends the one alert);
- fail: one alert saying what went wrong and what to do. A failed training is the execution's outcome,
  which the status poller sees too: it has the outcome's key, so the two send one alert.
"""

from __future__ import annotations

from typing import Literal

from lookout_diagnostics.aws import s3
from lookout_diagnostics.aws.sitewise import SiteWiseClient, typed_refusals
from lookout_diagnostics.domain.alert_keys import Outcome, outcome_key, workflow_key
from lookout_diagnostics.domain.alerts import workflow_failure_alert
from lookout_diagnostics.domain.failures import Failure, Lenient, WorkflowFailure, describe_failure
from lookout_diagnostics.domain.sitewise import TRAINING_ACTION, execution_for, failure_reason
from lookout_diagnostics.domain.sitewise_training import plan_sitewise_training
from lookout_diagnostics.errors import DiagnosticsNotReadyError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.headlines import Headline
from lookout_diagnostics.usecases.once import send_once


class StartedSiteWiseTraining(Model):
    """The start step's result, which the state machine's polling loop carries."""

    ComputationModelId: str
    ComputationModelName: str
    ComputationModelArn: str
    AssetId: str
    # None while a computation model the workflow created is CREATING: the check step trains it once ACTIVE.
    ActionId: str | None
    ActionPayload: str
    ClientToken: str
    InferencePayload: str | None = None
    InferenceClientToken: str = ""
    EvaluationBucket: str
    EvaluationPrefix: str
    PollIntervalSeconds: int
    MaxPolls: int


class SiteWiseTrainingStatus(Model):
    """The check step's result: STARTING until SiteWise lists the action's execution."""

    State: Literal["STARTING", "RUNNING", "COMPLETED", "FAILED"]
    ActionId: str | None = None
    ExecutionId: str | None = None
    FailureReason: str | None = None


class SiteWiseTrainingResult(Model):
    """The workflow's output, as the console shows it."""

    ComputationModelName: str
    AssetId: str
    ExecutionId: str
    Status: str
    EvaluationObject: str
    SummaryObject: str | None
    Summary: Headline | None
    Alert: Literal["ALERTED", "DUPLICATE"]
    # The inference action started after the training, when the input asked for it.
    InferenceActionId: str | None = None


def start_sitewise_training(raw_input: object, execution_arn: str, settings: Settings) -> StartedSiteWiseTraining:
    """Train the named computation model, or create the new one (trained by the check step once ACTIVE)."""
    plan = plan_sitewise_training(raw_input, execution_arn, settings)
    reader = SiteWiseClient()
    action_id: str | None = None
    if plan.NewComputationModel is not None:
        new = plan.NewComputationModel
        model = reader.create_computation_model(
            new.Name, new.AssetModelId, new.InputProperties, new.ResultProperty, plan.ModelClientToken
        )
    else:
        assert plan.ComputationModelId is not None  # the input's validator asks for one or the other
        model, action_id = reader.start_training(
            plan.ComputationModelId, plan.AssetId, plan.payload_text, plan.ClientToken
        )
    return StartedSiteWiseTraining(
        ComputationModelId=model.id,
        ComputationModelName=model.name,
        ComputationModelArn=model.arn,
        AssetId=plan.AssetId,
        ActionId=action_id,
        ActionPayload=plan.payload_text,
        ClientToken=plan.ClientToken,
        InferencePayload=plan.InferencePayload,
        InferenceClientToken=plan.InferenceClientToken,
        EvaluationBucket=plan.EvaluationBucket,
        EvaluationPrefix=plan.EvaluationPrefix,
        PollIntervalSeconds=plan.PollIntervalSeconds,
        MaxPolls=plan.MaxPolls,
    )


def check_sitewise_training(
    started: StartedSiteWiseTraining, previous: SiteWiseTrainingStatus | None = None
) -> SiteWiseTrainingStatus:
    """The training's state; for a computation model the workflow created, the training starts here once the
    model is ACTIVE (a FAILED model is ComputationModelNotFoundError)."""
    reader = SiteWiseClient()
    action_id = started.ActionId or (previous.ActionId if previous else None)
    with typed_refusals():  # throttled for good: SiteWiseUnavailableError, which the state machine retries
        if action_id is None:
            if reader.computation_model(started.ComputationModelId).state in ("CREATING", "UPDATING"):
                return SiteWiseTrainingStatus(State="STARTING")
            _, action_id = reader.start_training(
                started.ComputationModelId, started.AssetId, started.ActionPayload, started.ClientToken
            )
            return SiteWiseTrainingStatus(State="STARTING", ActionId=action_id)
        action = reader.action(action_id)
        executions = reader.executions(started.ComputationModelId, started.AssetId, TRAINING_ACTION)
        listed = execution_for(action, executions)
        if listed is None:
            return SiteWiseTrainingStatus(State="STARTING", ActionId=action_id)
        execution = reader.describe_execution(listed.id)
    state: Literal["RUNNING", "COMPLETED", "FAILED"] = (
        "COMPLETED" if execution.state == "COMPLETED" else "FAILED" if execution.state == "FAILED" else "RUNNING"
    )
    return SiteWiseTrainingStatus(
        State=state, ActionId=action_id, ExecutionId=execution.id, FailureReason=failure_reason(execution)
    )


def finish_sitewise_training(
    started: StartedSiteWiseTraining, status: SiteWiseTrainingStatus, settings: Settings
) -> SiteWiseTrainingResult:
    """The completed training's evaluation results, summarised and alerted once; DiagnosticsNotReadyError
    while SiteWise has not written them (the state machine retries, bounded)."""
    # First, so that waiting for the results (retried) or another path's alert does not hold it up; the
    # client token makes a retried start start nothing more.
    inference = (
        SiteWiseClient().start_inference(
            started.ComputationModelId, started.AssetId, started.InferencePayload, started.InferenceClientToken
        )
        if started.InferencePayload
        else None
    )
    location = s3.newest_diagnostics_file(started.EvaluationBucket, started.EvaluationPrefix)
    if location is None:
        raise DiagnosticsNotReadyError(
            f"no evaluation results under s3://{started.EvaluationBucket}/{started.EvaluationPrefix} yet"
        )
    # The alerting path (the summary engine, the chart) is imported here, when a training has finished: the start
    # and check steps, most of this function's invocations, never load it.
    from lookout_diagnostics.usecases.train import alert_trained_file

    alerted = alert_trained_file(s3.head(location), settings)
    return SiteWiseTrainingResult(
        ComputationModelName=started.ComputationModelName,
        AssetId=started.AssetId,
        ExecutionId=status.ExecutionId or "",
        Status=status.State,
        EvaluationObject=location.uri,
        SummaryObject=alerted.SummaryObject,
        Summary=alerted.Summary,
        Alert=alerted.Alert,
        InferenceActionId=inference,
    )


class SiteWiseExecutionState(Lenient):
    """What the failure step reads of the execution's state (whatever failed, some of it may be absent)."""

    training: StartedSiteWiseTraining | None = None
    status: SiteWiseTrainingStatus | None = None


def report_sitewise_failure(
    state: SiteWiseExecutionState, error: str, cause: str, execution_arn: str, settings: Settings
) -> WorkflowFailure:
    """Alert once about how the execution failed; return the Fail state's error and cause."""
    status, training = state.status, state.training
    failure = describe_failure(error, cause, status.FailureReason if status else None)
    key = workflow_key(execution_arn)
    if failure.Error is Failure.TRAINING_FAILED and training and status and status.ExecutionId:
        key = outcome_key(training.ComputationModelArn, None, Outcome.FAILED, status.ExecutionId)
    name, asset = (training.ComputationModelName, training.AssetId) if training else (None, None)
    alert = workflow_failure_alert(name, failure.Error, failure.Cause, failure.Advice, execution_arn, asset)
    send_once(settings, key, alert)
    return failure
