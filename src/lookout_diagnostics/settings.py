"""Runtime configuration: one pydantic model, read once from the environment."""

from __future__ import annotations

import os
from functools import cache

from pydantic import ConfigDict, Field, field_validator, model_validator

from lookout_diagnostics.models import Model


class SummaryThresholds(Model):
    """How a summary is judged. Shared by the Lambda functions and the command line."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    top_sensors: int = Field(default=5, ge=1, le=50, validation_alias="TOP_SENSORS")
    max_events: int = Field(default=50, ge=1, le=1000, validation_alias="MAX_EVENTS")
    warning_anomaly_rate: float = Field(default=0.01, ge=0, le=1, validation_alias="WARNING_ANOMALY_RATE")
    critical_anomaly_rate: float = Field(default=0.05, ge=0, le=1, validation_alias="CRITICAL_ANOMALY_RATE")
    warning_event_points: int = Field(default=10, ge=1, validation_alias="WARNING_EVENT_POINTS")
    critical_event_points: int = Field(default=60, ge=1, validation_alias="CRITICAL_EVENT_POINTS")

    @model_validator(mode="after")
    def _ordered(self) -> SummaryThresholds:
        if self.warning_anomaly_rate > self.critical_anomaly_rate:
            raise ValueError("WARNING_ANOMALY_RATE must not exceed CRITICAL_ANOMALY_RATE")
        if self.warning_event_points > self.critical_event_points:
            raise ValueError("WARNING_EVENT_POINTS must not exceed CRITICAL_EVENT_POINTS")
        return self


class StackDefaults(Model):
    """The stack's bucket and Lookout role: defaults for the training workflow and the command line."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    diagnostics_bucket: str | None = Field(default=None, validation_alias="DIAGNOSTICS_BUCKET")
    lookout_role_arn: str | None = Field(default=None, validation_alias="LOOKOUT_ROLE_ARN")
    # The customer KMS key L4E encrypts the diagnostics it writes with (ModelDiagnosticsOutputConfiguration.KmsKeyId).
    diagnostics_kms_key_arn: str | None = Field(default=None, validation_alias="DIAGNOSTICS_KMS_KEY_ARN")

    @field_validator("diagnostics_bucket", "lookout_role_arn", "diagnostics_kms_key_arn", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """CloudFormation passes an unset optional parameter as an empty string."""
        return None if value == "" else value


class Settings(SummaryThresholds, StackDefaults):
    """Everything a deployed function reads from its environment."""

    alert_topic_arn: str = Field(validation_alias="ALERT_TOPIC_ARN")
    ledger_table_name: str = Field(validation_alias="LEDGER_TABLE_NAME")
    # How long a claimed alert stays reserved for the invocation that claimed it:
    # longer than the function's timeout, so a slow run is never overtaken.
    claim_seconds: int = Field(default=960, ge=60, validation_alias="CLAIM_SECONDS")
    # The status poller.
    state_table_name: str | None = Field(default=None, validation_alias="STATE_TABLE_NAME")
    model_name_prefix: str | None = Field(default=None, validation_alias="MODEL_NAME_PREFIX")
    event_bus_name: str = Field(default="default", validation_alias="EVENT_BUS_NAME")
    alert_on_first_sighting: bool = Field(default=False, validation_alias="ALERT_ON_FIRST_SIGHTING")
    enable_diagnostics_on_models: bool = Field(default=False, validation_alias="ENABLE_DIAGNOSTICS_ON_MODELS")
    # The poller's safety net: how long after a success its diagnostics alert may take before the poller
    # sends it itself (default three 5-minute polls).
    safety_net_grace_minutes: int = Field(default=15, ge=0, validation_alias="SAFETY_NET_GRACE_MINUTES")
    # The services the stack serves (its EnableLookoutForEquipment and EnableIoTSiteWise).
    enable_lookout_for_equipment: bool = Field(default=True, validation_alias="ENABLE_LOOKOUT_FOR_EQUIPMENT")
    enable_iot_sitewise: bool = Field(default=True, validation_alias="ENABLE_IOT_SITEWISE")
    # An alert's https body: a chat card (the chat service subscribes with https), or the JSON body.
    chat_cards: bool = Field(default=True, validation_alias="CHAT_CARDS")
    # The fleet workflow: the single-asset workflows it runs each asset as (empty when the service is off).
    training_state_machine_arn: str | None = Field(default=None, validation_alias="TRAINING_STATE_MACHINE_ARN")
    sitewise_training_state_machine_arn: str | None = Field(
        default=None, validation_alias="SITEWISE_TRAINING_STATE_MACHINE_ARN"
    )

    def serves(self, service: str) -> bool:
        """Whether this stack summarises, polls and alerts `service` (a domain.services.Service: its value is
        compared, so that settings, the ground floor, imports nothing of the domain)."""
        if service == "iot-sitewise":
            return self.enable_iot_sitewise
        return self.enable_lookout_for_equipment

    @field_validator(
        "state_table_name",
        "model_name_prefix",
        "training_state_machine_arn",
        "sitewise_training_state_machine_arn",
        mode="before",
    )
    @classmethod
    def _unset_is_none(cls, value: object) -> object:
        return None if value == "" else value


@cache
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))


@cache
def get_thresholds() -> SummaryThresholds:
    return SummaryThresholds.model_validate(dict(os.environ))


@cache
def get_stack_defaults() -> StackDefaults:
    return StackDefaults.model_validate(dict(os.environ))
