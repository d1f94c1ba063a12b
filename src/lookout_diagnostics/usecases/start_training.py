"""A training workflow's start: the console's input validated, and CreateModel called once."""

from __future__ import annotations

from lookout_diagnostics.aws import lookout
from lookout_diagnostics.domain.training import LOOKOUT_CONCURRENT_TRAININGS, plan_training
from lookout_diagnostics.errors import LookoutBusyError, LookoutQuotaExceededError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import Settings


class StartedTraining(Model):
    """The StartTraining step's result, which the state machine's polling loop reads."""

    ModelName: str
    ModelArn: str
    Status: str
    PollIntervalSeconds: int
    MaxPolls: int
    MaxWaitSeconds: int


def start_training(raw_input: object, execution_name: str, settings: Settings) -> StartedTraining:
    """Validate the input and call CreateModel (idempotent: the ClientToken is the execution's name).

    CreateModel runs here rather than as a direct SDK step because its many optional fields must be
    passed through only when given, which a JSONPath `Parameters` block cannot express.
    """
    plan = plan_training(raw_input, execution_name, settings)
    try:
        model_arn, status = lookout.create_model(plan.CreateModel)
    except LookoutQuotaExceededError as error:
        # L4E says the same for both quotas. With models training, the refusal may be the 5 trainings at once
        # (another fleet's, anyone's, or ones that ended a moment ago): wait for a slot. With none training, it
        # is the model quota: waiting cannot help.
        training = len(lookout.LookoutClient().list_models(status="IN_PROGRESS"))
        if training:
            raise LookoutBusyError(
                f"{error} ({training} of at most {LOOKOUT_CONCURRENT_TRAININGS} models training in this account)"
            ) from error
        raise
    return StartedTraining(
        ModelName=plan.ModelName,
        ModelArn=model_arn,
        Status=status,
        PollIntervalSeconds=plan.PollIntervalSeconds,
        MaxPolls=plan.MaxPolls,
        MaxWaitSeconds=plan.MaxWaitSeconds,
    )
