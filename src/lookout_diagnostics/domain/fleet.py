"""A fleet: many assets trained in one execution, and the one digest that reports them.

Pure: no I/O. The fleet workflow's first step validates the console input and every asset of it (an
inline list, or a JSON Lines or CSV manifest read line by line) with the same rules the single-asset
workflow applies, checks the service's quota, and writes the plan the Distributed Map reads. Its last
step turns what each asset's training execution says into the digest a person reads at a glance.

Each asset trains as a child execution of the single-asset workflow, named from the fleet and the asset
alone (`execution_name`): the same fleet input always names the same executions, so a second run finds
them (Step Functions refuses a second execution of the same name) and reports them instead of training
again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import IO, Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.training import LOOKOUT_CONCURRENT_TRAININGS, input_problems
from lookout_diagnostics.errors import FleetInputError, FleetQuotaExceededError, InvalidTrainingInputError
from lookout_diagnostics.models import Model

FLEET_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
# Lookout for Equipment's quotas (docs/service-facts.md): models per account, models training at once.
LOOKOUT_MODEL_QUOTA = 15
# AWS IoT SiteWise publishes no quota on trainings running at once: L4E's, as a careful default.
SITEWISE_CONCURRENT_TRAININGS = 5
DEFAULT_CONCURRENCY = {
    Service.LOOKOUT_FOR_EQUIPMENT: LOOKOUT_CONCURRENT_TRAININGS,
    Service.IOT_SITEWISE: SITEWISE_CONCURRENT_TRAININGS,
}
# A Distributed Map runs up to 10,000 child executions at once and reads any number of items; the plan
# is written by one Lambda invocation and the digest reads every asset's execution in one: 10,000 keeps
# both well inside 15 minutes and a few MB.
MAX_ASSETS = 10_000
# Step Functions execution names: 1-80 characters; these are safe in names and in CloudWatch log streams.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
EXECUTION_NAME_LENGTH = 80
DIGEST_TABLE_ROWS = 25  # rows in the alert's text; the whole table is in S3
EVENT_ROWS = 50  # rows in the alert's JSON and the EventBridge event (256 KB each, at most)


AnyService = Service  # the type, where a field is named Service


class ManifestLocation(Model):
    """An S3 object listing the fleet's assets, one per line: JSON Lines (`.jsonl`) or CSV with a header."""

    model_config = ConfigDict(extra="forbid")

    Bucket: Annotated[str, Field(min_length=3, max_length=63)]
    Key: Annotated[str, Field(min_length=1, max_length=1024)]
    Format: Literal["JSONL", "CSV"] | None = None

    @property
    def format(self) -> Literal["JSONL", "CSV"]:
        if self.Format is not None:
            return self.Format
        lowered = self.Key.lower()
        if lowered.endswith(".csv"):
            return "CSV"
        if lowered.endswith((".jsonl", ".ndjson")):
            return "JSONL"
        raise FleetInputError(f"Manifest.Key {self.Key!r}: name it .jsonl or .csv, or give Manifest.Format")


class FleetInput(Model):
    """What a person pastes into the fleet workflow's "Start execution" box (events/fleet-input.json)."""

    model_config = ConfigDict(extra="forbid")

    FleetName: Annotated[str, Field(pattern=FLEET_NAME_PATTERN)]
    Service: AnyService = Service.LOOKOUT_FOR_EQUIPMENT
    Defaults: dict[str, Any] = Field(default_factory=dict)
    Assets: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_ASSETS)] | None = None
    Manifest: ManifestLocation | None = None
    MaxConcurrency: Annotated[int, Field(ge=1, le=1000)] | None = None
    # Step Functions reads ToleratedFailurePercentagePath as a whole number from 0 to 100.
    ToleratedFailurePercentage: Annotated[int, Field(ge=0, le=100)] = 100
    PerAssetAlerts: bool = True
    ModelQuota: Annotated[int, Field(ge=1, le=10_000)] = LOOKOUT_MODEL_QUOTA

    @model_validator(mode="after")
    def _one_source(self) -> FleetInput:
        if (self.Assets is None) == (self.Manifest is None):
            raise ValueError("give the assets inline (Assets) or in an S3 manifest (Manifest), not both")
        return self

    @property
    def concurrency(self) -> int:
        return self.MaxConcurrency if self.MaxConcurrency is not None else DEFAULT_CONCURRENCY[self.Service]


class Action(StrEnum):
    """What the fleet does with one asset."""

    TRAIN = "TRAIN"
    EXISTS = "EXISTS"  # an L4E model of that name exists already: reported, never trained again
    INVALID = "INVALID"  # the asset's input breaks a rule of the single-asset workflow: reported


AssetAction = Action  # the type, where a field is named Action


class PlannedAsset(Model):
    """One item of the plan the Distributed Map reads (its ItemReader): one child execution."""

    Index: int
    Line: int  # the asset's line in the manifest (1-based, the header being line 1 of a CSV), or its position
    Asset: str
    Action: AssetAction
    ExecutionName: str
    ExecutionArn: str | None = None  # the child's ARN (prepare_fleet fills it in), to find it again
    Input: dict[str, Any] | None = None  # the single-asset workflow's input (TRAIN)
    Problem: str | None = None  # why the asset cannot be trained (INVALID, EXISTS)


class FleetPlan(Model):
    """What the prepare step tells the state machine (the items themselves are in S3)."""

    FleetName: str
    Service: AnyService
    Bucket: str
    PlanKey: str
    Assets: int
    ToTrain: int
    Invalid: int
    Existing: int
    MaxConcurrency: int
    ToleratedFailurePercentage: int
    PerAssetAlerts: bool
    StateMachineArn: str


# --------------------------------------------------------------------------------------------------
# Reading the input
# --------------------------------------------------------------------------------------------------


def parse_fleet_input(raw: object) -> FleetInput:
    try:
        return FleetInput.model_validate(raw)
    except ValidationError as error:
        raise FleetInputError(input_problems(error)) from error


def inline_assets(assets: Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """The inline list's assets with their positions (1-based)."""
    yield from enumerate(assets, start=1)


def manifest_assets(stream: IO[bytes], form: Literal["JSONL", "CSV"]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Each asset of a manifest with its line number, read line by line; a line that cannot be read is
    given as the reason (a string) instead of an asset. Blank lines are skipped."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from (_jsonl if form == "JSONL" else _csv)(text)
    except UnicodeDecodeError as error:
        raise FleetInputError(f"the manifest is not UTF-8 text ({error.reason} at byte {error.start})") from error


def _jsonl(text: IO[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, f"not JSON ({error.msg} at column {error.colno})"
            continue
        yield number, value if isinstance(value, dict) else f"a JSON {type(value).__name__}, not an object"


def _csv(text: IO[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.DictReader(text)
    try:
        if not reader.fieldnames:
            return
        columns = len(reader.fieldnames)
        for row in reader:
            number = reader.line_num
            extra, values = row.pop(None, None), list(row.values())
            if extra is not None or None in values:  # more cells than columns, or fewer
                cells = columns + len(extra) if extra is not None else columns - values.count(None)
                yield number, f"{cells} cells for {columns} columns"
                continue
            yield number, {name: _cell(value) for name, value in row.items() if value != ""}
    except csv.Error as error:  # a cell longer than the csv module reads (128 KiB), a NUL byte...
        raise FleetInputError(f"the CSV manifest cannot be read at line {reader.line_num}: {error}") from error


def _cell(value: str) -> Any:
    """A CSV cell: JSON when it is an object or a list (a nested setting), otherwise the text; pydantic turns
    text into the numbers and times the single-asset input asks for."""
    stripped = value.strip()
    if stripped[:1] in "{[":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return stripped


# --------------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------------


def asset_key(service: Service, merged: dict[str, Any]) -> str:
    """What makes an asset one asset of the fleet: L4E's model name; SiteWise's computation model and asset."""
    if service is Service.LOOKOUT_FOR_EQUIPMENT:
        return str(merged.get("ModelName", ""))
    model = merged.get("ComputationModelId") or (merged.get("NewComputationModel") or {}).get("Name", "")
    return f"{model}/{merged.get('AssetId', '')}"


def asset_label(service: Service, merged: dict[str, Any], line: int) -> str:
    """The asset as the digest names it."""
    label = merged.get("Asset") or (
        merged.get("ModelName") if service is Service.LOOKOUT_FOR_EQUIPMENT else merged.get("AssetId")
    )
    return str(label) if label else f"line {line}"


def execution_name(fleet_name: str, key: str) -> str:
    """The asset's child execution: from the fleet's name and the asset alone, at most 80 characters,
    unique per asset (a hash of the key ends it, so two keys that read alike once shortened differ)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    readable = _UNSAFE.sub("-", key).strip("-")
    head = f"{fleet_name}-{readable}"[: EXECUTION_NAME_LENGTH - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def plan_asset(
    fleet: FleetInput,
    index: int,
    line: int,
    given: dict[str, Any] | str,
    validate: Any,
    existing_models: set[str],
    seen: dict[str, int],
) -> PlannedAsset:
    """One asset's plan: its defaults merged in (its own fields win), checked by `validate(input,
    execution_name)` (the single-asset workflow's own rules; InvalidTrainingInputError says what is wrong)."""
    if isinstance(given, str):
        return PlannedAsset(
            Index=index, Line=line, Asset=f"line {line}", Action=Action.INVALID,
            ExecutionName=execution_name(fleet.FleetName, f"line-{line}"), Problem=given,
        )  # fmt: skip
    merged = {key: value for key, value in (fleet.Defaults | given).items() if key != "Asset"}
    label = asset_label(fleet.Service, fleet.Defaults | given, line)
    key = asset_key(fleet.Service, merged)
    name = execution_name(fleet.FleetName, key or f"line-{line}")

    def planned(action: Action, problem: str | None = None, train: dict[str, Any] | None = None) -> PlannedAsset:
        return PlannedAsset(
            Index=index, Line=line, Asset=label, Action=action, ExecutionName=name, Input=train, Problem=problem
        )

    try:
        validate(merged, name)
    except InvalidTrainingInputError as error:
        return planned(Action.INVALID, str(error))
    if key in seen:
        return planned(Action.INVALID, f"the same asset as line {seen[key]}: each asset trains once per fleet")
    seen[key] = line
    if fleet.Service is Service.LOOKOUT_FOR_EQUIPMENT and key in existing_models:
        return planned(Action.EXISTS, f"a model named {key} exists already: reported, not trained again")
    return planned(Action.TRAIN, train=merged)


def check_quota(fleet: FleetInput, models_in_account: int, to_train: int) -> None:
    """L4E: the account's models and the fleet's new ones must fit in its model quota, before anything is
    created. AWS IoT SiteWise trains an existing computation model on each asset: nothing to count."""
    if fleet.Service is not Service.LOOKOUT_FOR_EQUIPMENT:
        return
    room = max(0, fleet.ModelQuota - models_in_account)
    if to_train > room:
        raise FleetQuotaExceededError(
            f"the fleet would create {to_train} models but only {room} fit: the account has {models_in_account} "
            f"of its {fleet.ModelQuota} Lookout for Equipment models (ModelQuota). Train at most {room} assets in "
            "this fleet, delete models no longer needed, or state the raised quota in ModelQuota. Nothing was created."
        )


# --------------------------------------------------------------------------------------------------
# The digest
# --------------------------------------------------------------------------------------------------


class AssetOutcome(StrEnum):
    """An asset's outcome in the digest, worst first."""

    FAILED = "FAILED"
    INVALID = "INVALID"
    NOT_RUN = "NOT_RUN"  # no child execution found (the Map Run stopped before it, or it is still running)
    TRAINED = "TRAINED"
    REPORTED = "REPORTED"  # trained by an earlier run of the same fleet: reported, not trained again
    EXISTS = "EXISTS"  # a model of that name existed before the fleet


_OUTCOME_RANK = {outcome: rank for rank, outcome in enumerate(AssetOutcome)}
_SEVERITY_RANK = {"CRITICAL": 0, "WARNING": 1, "OK": 2}


class AssetRow(Model):
    """One line of the digest's table."""

    asset: str
    outcome: AssetOutcome
    severity: str | None = None
    anomalous_events: int | None = None
    anomaly_rate: float | None = None
    top_sensor: str | None = None
    summary_object: str | None = None
    summary_link: str | None = None
    execution_arn: str | None = None
    reason: str | None = None

    def worst_first(self) -> tuple[int, int, int, str]:
        severity = _SEVERITY_RANK.get(self.severity or "", 3)
        return (_OUTCOME_RANK[self.outcome], severity, -(self.anomalous_events or 0), self.asset)


class DigestCounts(Model):
    assets: int = 0
    trained: int = 0
    reported: int = 0
    exists: int = 0
    failed: int = 0
    invalid: int = 0
    not_run: int = 0
    critical: int = 0
    warning: int = 0


def count(rows: Iterable[AssetRow]) -> DigestCounts:
    counts = DigestCounts()
    for row in rows:
        counts.assets += 1
        field = {
            AssetOutcome.TRAINED: "trained", AssetOutcome.REPORTED: "reported", AssetOutcome.EXISTS: "exists",
            AssetOutcome.FAILED: "failed", AssetOutcome.INVALID: "invalid", AssetOutcome.NOT_RUN: "not_run",
        }[row.outcome]  # fmt: skip
        setattr(counts, field, getattr(counts, field) + 1)
        if row.severity == "CRITICAL":
            counts.critical += 1
        elif row.severity == "WARNING":
            counts.warning += 1
    return counts


def digest_fingerprint(fleet_name: str, rows: Iterable[AssetRow]) -> str:
    """What the digest reports, as one value: a second run that finds the same outcomes has the same one
    (its alert is then a duplicate); a run that finds something new (a redriven asset trained) does not."""
    trained = (AssetOutcome.TRAINED, AssetOutcome.REPORTED)  # the same training, whichever run asked
    parts = sorted(
        f"{row.asset}|{'TRAINED' if row.outcome in trained else row.outcome.value}|{row.execution_arn or ''}"
        for row in rows
    )
    return hashlib.sha256("\n".join([fleet_name, *parts]).encode()).hexdigest()[:24]


def digest_severity(counts: DigestCounts) -> Literal["OK", "WARNING", "CRITICAL", "ERROR"]:
    if counts.critical:
        return "CRITICAL"
    if counts.failed or counts.invalid or counts.not_run:
        return "ERROR"
    if counts.warning:
        return "WARNING"
    return "OK"


def digest_headline(fleet_name: str, counts: DigestCounts) -> str:
    parts = [f"{counts.trained + counts.reported} of {counts.assets} trained"]
    if counts.critical:
        parts.append(f"{counts.critical} critical")
    if counts.warning:
        parts.append(f"{counts.warning} warning")
    if counts.failed:
        parts.append(f"{counts.failed} failed")
    if counts.invalid:
        parts.append(f"{counts.invalid} invalid")
    if counts.not_run:
        parts.append(f"{counts.not_run} not run")
    return f"fleet {fleet_name}: " + ", ".join(parts)


def table_text(rows: list[AssetRow], limit: int = DIGEST_TABLE_ROWS) -> str:
    """The table as email shows it, in a fixed-width font or not: one asset per line, worst first."""
    lines = []
    width = min(28, max((len(row.asset) for row in rows[:limit]), default=5))
    for row in rows[:limit]:
        figures = (
            f"{row.severity or '-':8} {_events(row.anomalous_events):>10}  {row.top_sensor or '-'}"
            if row.outcome in (AssetOutcome.TRAINED, AssetOutcome.REPORTED)
            else (row.reason or "")[:90]
        )
        lines.append(f"{_clip(row.asset, width):{width}}  {row.outcome.value:8} {figures}")
        if row.summary_link:
            lines.append(f"{'':{width}}  summary: {row.summary_link}")
    header = f"{'asset':{width}}  {'outcome':8} {'severity':8} {'events':>10}  top sensor / reason"
    return "\n".join([header, *lines])


def table_csv(rows: Iterable[AssetRow]) -> str:
    buffer = io.StringIO()
    columns = list(AssetRow.model_fields)
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None else value) for key, value in row.model_dump(mode="json").items()})
    return buffer.getvalue()


def _events(value: int | None) -> str:
    return "-" if value is None else f"{value} events" if value != 1 else "1 event"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class FleetEnding(Model):
    """A fleet execution that ended before its digest step, as Step Functions' status-change event tells it."""

    execution_arn: str
    fleet_name: Annotated[str, Field(pattern=FLEET_NAME_PATTERN)]
    status: str  # FAILED, TIMED_OUT or ABORTED
    error: str | None = None
    cause: str | None = None
    started_at: float  # epoch seconds

    def sentence(self) -> str:
        said = f": {self.error}" if self.error else ""
        said += f" ({' '.join((self.cause or '').split())[:200]})" if self.cause else ""
        return (
            f"the fleet execution {self.status}{said} before its last step. Fix the cause and redrive it: only the "
            "assets that did not succeed run again, and its digest follows."
        )


class FleetDigestEvent(Model):
    """The fleet's EventBridge event (detail type "Fleet Training Digest"), the digest for machines."""

    schema_version: str = "1"
    event_id: str
    fleet_name: str
    service: Service
    execution_arn: str
    severity: str
    counts: DigestCounts
    table_object: str
    assets: list[AssetRow]  # the worst first, at most EVENT_ROWS: the whole table is table_object's
    execution_status: str = "RUNNING"  # FAILED, TIMED_OUT or ABORTED: the execution ended before its digest step


class ChildExecution(Model):
    """An asset's training execution, as Step Functions describes it."""

    arn: str
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
    started_at: float  # epoch seconds
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


def child_execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:…:stateMachine:<machine> and a name give arn:…:execution:<machine>:<name>."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def asset_row(planned: PlannedAsset, child: ChildExecution | None, fleet_started_at: float, link: Any) -> AssetRow:
    """What the digest says of one asset: its plan, and its training execution if there is one. `link(uri)`
    turns a summary's s3:// URI into the link a person opens."""
    if planned.Action is Action.INVALID:
        reason = f"line {planned.Line}: {planned.Problem}"
        return AssetRow(asset=planned.Asset, outcome=AssetOutcome.INVALID, reason=reason)
    if child is None:
        if planned.Action is Action.EXISTS:
            return AssetRow(asset=planned.Asset, outcome=AssetOutcome.EXISTS, reason=planned.Problem)
        return AssetRow(asset=planned.Asset, outcome=AssetOutcome.NOT_RUN, reason="no training execution was started")
    if child.status == "RUNNING":
        return AssetRow(
            asset=planned.Asset, outcome=AssetOutcome.NOT_RUN, execution_arn=child.arn, reason="still training"
        )
    if child.status != "SUCCEEDED":
        reason = f"{child.error or child.status}: {_failure_cause(child.cause)}"
        return AssetRow(asset=planned.Asset, outcome=AssetOutcome.FAILED, execution_arn=child.arn, reason=reason)
    output = child.output or {}
    headline = output.get("Summary") or {}
    summary_uri = output.get("SummaryObject")
    top = headline.get("top_sensors") or []
    return AssetRow(
        asset=planned.Asset,
        outcome=AssetOutcome.TRAINED if child.started_at >= fleet_started_at else AssetOutcome.REPORTED,
        severity=headline.get("severity"),
        anomalous_events=headline.get("event_count"),
        anomaly_rate=headline.get("anomaly_rate"),
        top_sensor=top[0] if top else None,
        summary_object=summary_uri,
        summary_link=link(summary_uri) if summary_uri else None,
        execution_arn=child.arn,
        reason=None if headline else f"no summary yet (alert {output.get('Alert', 'PENDING')})",
    )


def _failure_cause(cause: str | None) -> str:
    """A failed execution's cause, shortened: the single-asset workflow's Fail state names the failure."""
    if not cause:
        return "see the execution"
    return " ".join(cause.split())[:300]
