"""The fleet workflow's two Lambda steps: prepare the plan the Distributed Map reads, and send the digest.

Between them Step Functions does the fan-out itself (statemachine/train_fleet.asl.json): a Distributed
Map reads the plan, runs each asset as a child execution of the single-asset workflow at most
MaxConcurrency at a time, and writes each child's result with its ResultWriter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter

from lookout_diagnostics.aws import ledger, s3, stepfunctions
from lookout_diagnostics.aws.lookout import LookoutClient
from lookout_diagnostics.aws.sitewise import SiteWiseClient
from lookout_diagnostics.domain.alert_keys import fleet_key, mute_key, stable_id
from lookout_diagnostics.domain.alerts import fleet_digest_alert
from lookout_diagnostics.domain.fleet import (
    EVENT_ROWS,
    MAX_ASSETS,
    Action,
    AssetRow,
    ChildExecution,
    FleetDigestEvent,
    FleetEnding,
    FleetInput,
    FleetPlan,
    PlannedAsset,
    asset_row,
    check_quota,
    child_execution_arn,
    count,
    digest_fingerprint,
    digest_headline,
    digest_severity,
    inline_assets,
    manifest_assets,
    parse_fleet_input,
    plan_asset,
    table_csv,
)
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.sitewise_training import plan_sitewise_training
from lookout_diagnostics.domain.training import plan_training
from lookout_diagnostics.errors import DiagnosticsFileError, DiagnosticsObjectMissingError, FleetInputError
from lookout_diagnostics.models import DEFERRED, Model
from lookout_diagnostics.settings import Settings
from lookout_diagnostics.usecases.headlines import headline, stored_summary
from lookout_diagnostics.usecases.once import put_once, send_once

FLEET_PREFIX = "fleets"
# How long a fleet's mute of per-asset alerts outlives its longest training at most, if its digest never
# ends it: the finish step's wait for a late file (about 40 minutes) and the poller's grace, with room.
MUTE_MARGIN_SECONDS = 3 * 3600
_PLAN = TypeAdapter(list[PlannedAsset], config=DEFERRED)  # built on first use


class DigestResult(Model):
    """The fleet execution's output, as the console shows it."""

    FleetName: str
    Severity: str
    Headline: str
    Counts: dict[str, int]
    TableObject: str
    TableLink: str
    Alert: str  # ALERTED or DUPLICATE
    Worst: list[AssetRow]


def prepare_fleet(raw: object, execution_arn: str, settings: Settings) -> FleetPlan:
    """Validate the fleet and each of its assets, check the quota, write the plan; nothing is trained here.

    Raises FleetInputError (the fleet's input cannot be used) and FleetQuotaExceededError (L4E: the fleet
    does not fit in the account's model quota) before any model is created. An asset that breaks a rule is
    planned as INVALID and reported by the digest; the others train.
    """
    fleet = parse_fleet_input(raw)
    state_machine_arn = _single_asset_workflow(fleet.Service, settings)
    if not settings.diagnostics_bucket:
        raise FleetInputError("the stack has no diagnostics bucket (DIAGNOSTICS_BUCKET) to write the fleet's plan to")
    existing = (
        {model.name for model in LookoutClient().list_models()}
        if fleet.Service is Service.LOOKOUT_FOR_EQUIPMENT
        else set()
    )
    validate = _validator(fleet.Service, settings)
    seen: dict[str, int] = {}
    planned: list[PlannedAsset] = []
    with _assets(fleet) as assets:
        for index, (line, given) in enumerate(assets):
            if index >= MAX_ASSETS:
                raise FleetInputError(f"a fleet has at most {MAX_ASSETS} assets: split the manifest")
            asset = plan_asset(fleet, index, line, given, validate, existing, seen)
            arn = child_execution_arn(state_machine_arn, asset.ExecutionName)
            planned.append(asset.model_copy(update={"ExecutionArn": arn}))
    if not planned:
        raise FleetInputError("the manifest lists no assets")
    to_train = [asset for asset in planned if asset.Action is Action.TRAIN]
    check_quota(fleet, len(existing), len(to_train))
    run = execution_arn.rsplit(":", 1)[-1]
    base = f"{FLEET_PREFIX}/{fleet.FleetName}/{run}"
    plan_location = S3Location(bucket=settings.diagnostics_bucket, key=f"{base}/plan.json")
    s3.put_json(plan_location, _PLAN.dump_json(planned).decode())
    if not fleet.PerAssetAlerts:
        _mute(fleet, to_train, execution_arn, settings)
    prepared = FleetPlan(
        FleetName=fleet.FleetName,
        Service=fleet.Service,
        Bucket=settings.diagnostics_bucket,
        PlanKey=plan_location.key,
        Assets=len(planned),
        ToTrain=len(to_train),
        Invalid=sum(asset.Action is Action.INVALID for asset in planned),
        Existing=sum(asset.Action is Action.EXISTS for asset in planned),
        MaxConcurrency=fleet.concurrency,
        ToleratedFailurePercentage=fleet.ToleratedFailurePercentage,
        PerAssetAlerts=fleet.PerAssetAlerts,
        StateMachineArn=state_machine_arn,
    )
    # Beside the plan, for the digest of an execution that ends before its digest step (see digest_ended_fleet).
    s3.put_json(_fleet_location(settings.diagnostics_bucket, fleet.FleetName, run), prepared.model_dump_json())
    return prepared


def digest_ended_fleet(ended: FleetEnding, settings: Settings) -> DigestResult | None:
    """The digest of a fleet execution that failed, timed out or was stopped before its digest step: what its
    assets' trainings say so far (those not started are NOT_RUN), and how the execution ended. None when it
    ended before a plan was written: nothing ran, and its failure is the execution's (console, alarm)."""
    if not settings.diagnostics_bucket:
        raise FleetInputError("the stack has no diagnostics bucket (DIAGNOSTICS_BUCKET)")
    run = ended.execution_arn.rsplit(":", 1)[-1]
    text = s3.read_json(_fleet_location(settings.diagnostics_bucket, ended.fleet_name, run))
    if text is None:
        return None
    return digest_fleet(FleetPlan.model_validate_json(text), ended.execution_arn, ended.started_at, settings, ended)


def _fleet_location(bucket: str, fleet_name: str, run: str) -> S3Location:
    return S3Location(bucket=bucket, key=f"{FLEET_PREFIX}/{fleet_name}/{run}/fleet.json")


def digest_fleet(
    plan: FleetPlan, execution_arn: str, started_at: float, settings: Settings, ended: FleetEnding | None = None
) -> DigestResult:
    """Ask Step Functions how each asset's training went, write the whole table to S3, and send the one
    alert and the one EventBridge event of the fleet (once: a second run that finds the same outcomes
    sends nothing). Ends the fleet's mute of per-asset alerts."""
    text = s3.read_json(S3Location(bucket=plan.Bucket, key=plan.PlanKey))
    if text is None:
        raise FleetInputError(f"the fleet's plan s3://{plan.Bucket}/{plan.PlanKey} is gone")
    planned = _PLAN.validate_json(text)

    def link(uri: str) -> str:
        return S3Location.from_uri(uri).console_url

    rows = sorted(
        (
            asset_row(
                asset,
                with_pending_summary(plan.Service, asset, stepfunctions.describe_execution(asset.ExecutionArn))
                if asset.Action is not Action.INVALID and asset.ExecutionArn
                else None,
                started_at,
                link,
            )
            for asset in planned
        ),
        key=AssetRow.worst_first,
    )
    counts = count(rows)
    base = plan.PlanKey.rsplit("/", 1)[0]
    table = S3Location(bucket=plan.Bucket, key=f"{base}/digest.csv")
    s3.put_text(table, table_csv(rows), "text/csv")
    s3.put_json(
        S3Location(bucket=plan.Bucket, key=f"{base}/digest.json"),
        json.dumps({"counts": counts.model_dump(), "assets": [row.model_dump(mode="json") for row in rows]}),
    )
    key = fleet_key(plan.FleetName, digest_fingerprint(plan.FleetName, rows))
    event = FleetDigestEvent(
        event_id=stable_id(key),
        fleet_name=plan.FleetName,
        service=plan.Service,
        execution_arn=execution_arn,
        severity=digest_severity(counts),
        counts=counts,
        table_object=table.uri,
        assets=rows[:EVENT_ROWS],
    )
    headline = digest_headline(plan.FleetName, counts)
    table_link = table.console_url
    if ended is not None:
        event = event.model_copy(update={"severity": "ERROR", "execution_status": ended.status})
        headline = f"{headline} (execution {ended.status})"
    sent = send_once(settings, key, fleet_digest_alert(event, rows, table_link, headline, ended))
    put_once(settings, event)
    if not plan.PerAssetAlerts:
        _unmute(planned, plan, execution_arn, settings)
    return DigestResult(
        FleetName=plan.FleetName,
        Severity=event.severity,
        Headline=headline,
        Counts=counts.model_dump(),
        TableObject=table.uri,
        TableLink=table_link,
        Alert=sent,
        Worst=rows[:10],
    )


def with_pending_summary(service: Service, asset: PlannedAsset, child: ChildExecution | None) -> ChildExecution | None:
    """A training that ended with its alert PENDING (its file landed late, or the S3 trigger was sending its
    alert at that moment) has no summary in its output: the one written beside its file, if there is one by
    now. Its alert, muted while the fleet ran, is reported here, not lost."""
    output = (child.output or {}) if child is not None else {}
    if child is None or child.status != "SUCCEEDED" or output.get("Summary") or output.get("Alert") != "PENDING":
        return child
    location = _pending_summary_location(service, asset, output)
    summary = stored_summary(location) if location is not None else None
    if summary is None:
        return child
    found = {"Summary": headline(summary).model_dump(mode="json"), "SummaryObject": location.uri}  # type: ignore[union-attr]
    return child.model_copy(update={"output": output | found})


def _pending_summary_location(service: Service, asset: PlannedAsset, output: dict[str, Any]) -> S3Location | None:
    if service is Service.LOOKOUT_FOR_EQUIPMENT:
        version = LookoutClient().describe_model_version(str(output["ModelName"]), int(output["ModelVersion"]))
        return version.diagnostics_object.summary_location() if version.diagnostics_object else None
    # AWS IoT SiteWise: the training wrote its evaluation results under the prefix its workflow gave it.
    bucket, prefix = output.get("EvaluationBucket"), output.get("EvaluationPrefix")
    if not bucket or not prefix:
        return None
    found = s3.newest_diagnostics_file(str(bucket), str(prefix))
    return found.summary_location() if found else None


def _single_asset_workflow(service: Service, settings: Settings) -> str:
    arn = (
        settings.training_state_machine_arn
        if service is Service.LOOKOUT_FOR_EQUIPMENT
        else settings.sitewise_training_state_machine_arn
    )
    if not settings.serves(service) or not arn:
        raise FleetInputError(f"this stack does not train {service.display_name} models (Service {service.value!r})")
    return arn


def _validator(service: Service, settings: Settings) -> Callable[[dict[str, Any], str], object]:
    """The single-asset workflow's own check of its input, as its first step runs it."""
    if service is Service.LOOKOUT_FOR_EQUIPMENT:
        return lambda given, name: plan_training(given, name, settings)
    return lambda given, name: plan_sitewise_training(given, f"arn:aws:states:::execution:fleet:{name}", settings)


@contextmanager
def _assets(fleet: FleetInput) -> Iterator[Iterator[tuple[int, dict[str, Any] | str]]]:
    if fleet.Assets is not None:
        yield inline_assets(fleet.Assets)
        return
    assert fleet.Manifest is not None
    location = S3Location(bucket=fleet.Manifest.Bucket, key=fleet.Manifest.Key)
    form = fleet.Manifest.format
    try:
        stored = s3.head(location)
        with s3.open_stream(stored) as stream:
            yield manifest_assets(stream, form)
    except (DiagnosticsObjectMissingError, DiagnosticsFileError) as error:
        raise FleetInputError(f"the manifest {location.uri} cannot be read: {error}") from error


def _mute_keys(service: Service, assets: list[PlannedAsset]) -> set[str]:
    """The mute of each asset's alerts, as alerts name what they are about: L4E's model; SiteWise's computation
    model (by the name its alerts carry) on the asset."""
    if service is Service.LOOKOUT_FOR_EQUIPMENT:
        return {mute_key(str((asset.Input or {})["ModelName"])) for asset in assets}
    sitewise = SiteWiseClient()
    keys = set()
    for asset in assets:
        given = asset.Input or {}
        new = given.get("NewComputationModel")
        name = str(new["Name"]) if new else sitewise.computation_model(str(given["ComputationModelId"])).name
        keys.add(mute_key(name, str(given["AssetId"])))
    return keys


def _mute(fleet: FleetInput, assets: list[PlannedAsset], execution_arn: str, settings: Settings) -> None:
    """Until the digest ends it (or, if no digest ever comes, until the fleet's last asset could have
    finished: its waves of MaxConcurrency assets, each as long as the longest MaxWaitSeconds, and a margin)."""
    longest = max((int((asset.Input or {}).get("MaxWaitSeconds", 48 * 3600)) for asset in assets), default=0)
    waves = -(-len(assets) // fleet.concurrency)
    until = int(time.time()) + waves * longest + MUTE_MARGIN_SECONDS
    for key in sorted(_mute_keys(fleet.Service, assets)):
        ledger.mute(settings.ledger_table_name, key, until, execution_arn)


def _unmute(planned: list[PlannedAsset], plan: FleetPlan, execution_arn: str, settings: Settings) -> None:
    to_train = [asset for asset in planned if asset.Action is Action.TRAIN]
    for key in sorted(_mute_keys(plan.Service, to_train)):
        ledger.unmute(settings.ledger_table_name, key, execution_arn)
