"""The project's own exceptions. Step Functions and the handlers match on these class names."""

from __future__ import annotations


class LookoutAutomationError(Exception):
    """Base class: anything this project raises on purpose."""


class DiagnosticsFileError(LookoutAutomationError):
    """The diagnostics file cannot be summarised. Retrying will not help: the file itself is bad."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


class DiagnosticsObjectMissingError(LookoutAutomationError):
    """The object named by an event or a model version does not exist (or is not readable)."""


class MalformedEventError(LookoutAutomationError):
    """The Lambda event is not an S3 notification nor an EventBridge 'Object Created' event."""


class AlertInProgressError(LookoutAutomationError):
    """Another invocation holds the claim on this alert; a retry after it finishes will see it sent."""


class InvalidOptionError(LookoutAutomationError):
    """A command-line option has a value that cannot be used."""


class InvalidLocationError(LookoutAutomationError):
    """A location given by a person (an s3:// URI or a path) cannot be used."""


class InvalidTrainingInputError(LookoutAutomationError):
    """The training workflow's input cannot be used; the message says what to fix."""


class DiagnosticsNotReadyError(LookoutAutomationError):
    """Training succeeded but its diagnostics file is not in S3 yet (the workflow retries, bounded)."""


class LookoutRequestError(LookoutAutomationError):
    """Lookout for Equipment refused a request; the subclass says why, the message is L4E's."""


class ModelAlreadyExistsError(LookoutRequestError):
    """ConflictException: a model with this name exists or is being created."""


class LookoutRejectedRequestError(LookoutRequestError):
    """ValidationException: the request does not suit the dataset or the service."""


class LookoutAccessDeniedError(LookoutRequestError):
    """AccessDeniedException: a permission is missing (the caller's, or the role passed to L4E)."""


class LookoutQuotaExceededError(LookoutRequestError):
    """ServiceQuotaExceededException: too many models, or too many trainings at once."""


class LookoutBusyError(LookoutQuotaExceededError):
    """ServiceQuotaExceededException while models are training in the account: most likely L4E's 5 trainings at
    once, not a lasting quota, so the workflow waits for a slot and tries again."""


class DatasetNotFoundError(LookoutRequestError):
    """ResourceNotFoundException on CreateModel: the dataset does not exist."""


class ModelNotFoundError(LookoutRequestError):
    """ResourceNotFoundException on a model operation: the model does not exist (any more)."""


class LookoutUnavailableError(LookoutRequestError):
    """Throttling or an internal error that outlasted the client's retries: worth retrying later."""


class PollerNotConfiguredError(LookoutAutomationError):
    """The status poller needs STATE_TABLE_NAME."""


class EventNotPublishedError(LookoutAutomationError):
    """EventBridge refused an event (it reports failures per entry, not as an exception)."""


class SiteWiseRequestError(LookoutAutomationError):
    """AWS IoT SiteWise refused a request; the subclass says why, the message is SiteWise's."""


class SiteWiseRejectedRequestError(SiteWiseRequestError):
    """SiteWise found the request invalid (InvalidRequestException, ConflictingOperationException)."""


class ComputationModelNotFoundError(SiteWiseRequestError):
    """The computation model or asset does not exist, or is not an anomaly-detection model ready to train."""


class SiteWiseAccessDeniedError(SiteWiseRequestError):
    """The workflow's role may not do what the request asks."""


class SiteWiseUnavailableError(SiteWiseRequestError):
    """SiteWise kept throttling or failing after the SDK's retries (the workflow retries, bounded)."""


class FleetInputError(LookoutAutomationError):
    """The fleet workflow's input (not one asset's: those are reported in the digest) cannot be used."""


class FleetQuotaExceededError(LookoutAutomationError):
    """The fleet does not fit in the service's quota: nothing was created."""
