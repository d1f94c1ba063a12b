"""Every once-only key the stack uses: one scheme, one place.

A key names one thing that happened. Whichever path sees it (the S3 trigger, the training workflow,
the status poller) claims the same key in the alert ledger before it acts, so the thing is announced
once. Pure: the keys are built from what AWS reports, never from which path is asking.

- `diagnostics#<bucket>#<key>#<ETag>[#<version id>]`: one stored version of a diagnostics file (its
  summary, or why it cannot be read). Claimed by the S3 trigger, the workflow and the poller's safety net.
- `outcome#<model ARN>#<version>#<outcome>`: a version's outcome that no diagnostics file speaks for.
  Claimed by the workflow and the poller.
- `outcome#<model ARN>#-#TRAINING_FAILED`: a model's first training failed, whether L4E reports it on the
  model or as version 1. Claimed by the workflow and the poller.
- `outcome#<computation model ARN>#execution/<execution id>#<outcome>`: an AWS IoT SiteWise training
  execution's outcome (a computation model trains many times, on many assets). The poller.
- `outcome#<computation model ARN>#-#COMPUTATION_MODEL_FAILED`: a SiteWise computation model in state
  FAILED. The poller.
- `diagnostics-at#<bucket>#<key>`: recorded beside the first when a file's alert is sent, so that a file
  deleted or moved afterwards is not taken for one that never came. Read by the poller's safety net.
- `coverage#<model ARN>`: a model writes no diagnostics. The poller.
- `workflow#<execution ARN>`: a training execution failed before there was a model outcome. The workflow.
- `event#<event id>`: the EventBridge event of an outcome (the poller) or of a fleet's digest.
- `fleet#<fleet name>#<fingerprint>`: a fleet's digest of what its assets' trainings say (the fleet
  workflow). A second run of the same fleet that finds the same outcomes has the same key.
- `mute#<model name>[#<asset id>]`: not a once-only key but what the gate reads before it publishes: while a fleet
  with per-asset alerts off trains this model, its alerts are recorded as sent (the fleet's digest
  reports them) instead of published. Written and removed by the fleet workflow, ends on its own.

`alert_id` and `event_id` are the key's hash: the same thing always has the same id, in every retry
of every path, so a subscriber can drop a repeat that the at-least-once parts of AWS let through.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum


class Outcome(StrEnum):
    """A terminal outcome of a model version, as alerts and EventBridge events name it."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    NOT_PROMOTED = "NOT_PROMOTED"  # a scheduled retraining succeeded but did not replace the active version
    TRAINING_FAILED = "TRAINING_FAILED"  # the model's first training failed
    COMPUTATION_MODEL_FAILED = "COMPUTATION_MODEL_FAILED"  # a SiteWise computation model is in state FAILED


def diagnostics_key(bucket: str, key: str, etag: str, version_id: str | None) -> str:
    """One stored version of a diagnostics file: the same bytes at the same version never alert twice."""
    stored = f"diagnostics#{bucket}#{key}#{etag}"
    return f"{stored}#{version_id}" if version_id else stored


def diagnostics_location_key(bucket: str, key: str) -> str:
    """A diagnostics file's location, whichever version of it was alerted."""
    return f"diagnostics-at#{bucket}#{key}"


def outcome_key(model_arn: str, version: int | None, outcome: Outcome, execution_id: str | None = None) -> str:
    """A model version's outcome, or a SiteWise execution's. A first training's failure is one outcome, with
    or without a version; so is a computation model's failure."""
    if execution_id is not None:
        return f"outcome#{model_arn}#execution/{execution_id}#{outcome.value}"
    if outcome in (Outcome.TRAINING_FAILED, Outcome.COMPUTATION_MODEL_FAILED):
        version = None
    return f"outcome#{model_arn}#{version if version is not None else '-'}#{outcome.value}"


def coverage_key(model_arn: str) -> str:
    return f"coverage#{model_arn}"


def workflow_key(execution_arn: str) -> str:
    return f"workflow#{execution_arn}"


def event_key(event_id: str) -> str:
    return f"event#{event_id}"


def fleet_key(fleet_name: str, fingerprint: str) -> str:
    return f"fleet#{fleet_name}#{fingerprint}"


def mute_key(model_name: str, asset_id: str | None = None) -> str:
    """L4E: a model. AWS IoT SiteWise: a computation model on one asset (it trains on many)."""
    return f"mute#{model_name}#{asset_id}" if asset_id else f"mute#{model_name}"


def stable_id(key: str) -> str:
    """The id of what a key names (an alert's `alert_id`, an event's `event_id`): 32 hex characters."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]
