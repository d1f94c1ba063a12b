"""What template.yaml promises about the scheduled status poller, checked on the template itself.

The loader is test_template.py's, the Stack resolver and the permission evaluation tests/support/iam_policies.py's:
the guarantees every function shares (handler, environment, claim, log group, no "*" beyond the unscopable
actions) are tested there, parametrised over the functions, the poller included.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from tests.support.iam_policies import (
    ACCOUNT,
    BOTH_ROLE_MODES,
    LOOKOUT_PRINCIPAL,
    LOOKOUT_ROLES,
    OTHER_ROLE,
    PASS_CONTEXTS,
    REGION,
    Stack,
    as_list,
    function_allows,
    grants_pass_role,
    lookout_arn,
    lookout_operations,
    policy_documents,
)
from tests.support.template import STATUS_POLLER, alarm_watching, function_environment, function_timeout

STATE_TABLE = f"arn:aws:test:{REGION}:{ACCOUNT}:ModelStateTable"  # the stand-in for !GetAtt ModelStateTable.Arn
LEDGER = f"arn:aws:test:{REGION}:{ACCOUNT}:AlertLedgerTable"
DEFAULT_BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
MODEL_ARN = lookout_arn("model/pump-7/0f1e2d3c")
MODEL_VERSION_ARN = f"{MODEL_ARN}/model-version/3"
OTHER_TEAMS_MODEL = lookout_arn("model/fan-2/9a8b7c6d")
MODELS_ELSEWHERE = (
    lookout_arn("model/pump-7/0f1e2d3c", account="210987654321"),
    lookout_arn("model/pump-7/0f1e2d3c", region="us-east-1"),
)
READS = {"DescribeModel", "ListModelVersions", "DescribeModelVersion"}
# ListModels supports no resource-level permission: granted on "*", it matches every ARN.
LIST = {"ListModels"}
BOTH_OPT_IN_VALUES = pytest.mark.parametrize("diagnostics_on_models", ["false", "true"])


def _poller(resources: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resources[STATUS_POLLER]["Properties"]
    return properties


def _schedule_event(resources: dict[str, Any]) -> dict[str, Any]:
    (event,) = _poller(resources)["Events"].values()
    assert event["Type"] == "Schedule"
    properties: dict[str, Any] = event["Properties"]
    return properties


def _rate_seconds(expression: str) -> int:
    """The interval of an EventBridge rate() expression."""
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    assert match, f"not a rate expression: {expression}"
    return int(match[1]) * {"minute": 60, "hour": 3600, "day": 86400}[match[2]]


def _default_interval(template: dict[str, Any]) -> int:
    return _rate_seconds(template["Parameters"]["PollSchedule"]["Default"])


def _accepts(template: dict[str, Any], parameter: str, value: str) -> bool:
    """Whether CloudFormation accepts `value` for `parameter` (AllowedPattern matches the whole value)."""
    return re.fullmatch(template["Parameters"][parameter]["AllowedPattern"], value) is not None


# ----------------------------------------------------------------------------- state
def test_state_table_is_on_demand_encrypted_recoverable_and_keyed_by_model_arn(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the table the poller keeps its memory in
    table = resources["ModelStateTable"]
    properties = table["Properties"]

    # When its billing, encryption, backup and key are read
    # Then it scales with use, is encrypted at rest, can be restored to any second of the last 35 days,
    # and is keyed by the string pk the code writes (the model ARN)
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    # ... and it is the table the functions are told about
    assert function_environment(template, STATUS_POLLER)["STATE_TABLE_NAME"] == {"Ref": "ModelStateTable"}


# -------------------------------------------------------------------------- schedule
def test_schedule_runs_the_poller_at_the_poll_schedule_parameter_and_is_enabled(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the poller's one event source
    schedule = _schedule_event(resources)

    # When its expression and state are read
    # Then the rate is the stack's PollSchedule parameter, and the schedule runs from deployment on
    assert schedule["Schedule"] == {"Ref": "PollSchedule"}
    assert schedule["Enabled"] is True
    assert "State" not in schedule  # State would override Enabled
    assert template["Parameters"]["PollSchedule"]["Default"] == "rate(5 minutes)"


@pytest.mark.parametrize(
    ("expression", "accepted"),
    [
        ("rate(5 minutes)", True),
        ("rate(1 minute)", True),
        ("rate(2 hours)", True),
        ("cron(0/10 * * * ? *)", True),
        ("rate(0 minutes)", False),
        ("rate(5 seconds)", False),
        ("5 minutes", False),
        ("", False),
        ("rate(5 minutes) ", False),
        ("cron(0 * * * ? *))", False),
    ],
)
def test_poll_schedule_accepts_only_rate_and_cron_expressions(
    template: dict[str, Any], expression: str, accepted: bool
) -> None:
    # Given the PollSchedule parameter's allowed pattern
    # When a value is given for it
    # Then CloudFormation accepts EventBridge rate() and cron() expressions only
    assert _accepts(template, "PollSchedule", expression) is accepted


def test_model_name_prefix_accepts_what_list_models_accepts_or_nothing(template: dict[str, Any]) -> None:
    # Given L4E's own pattern for ListModels' ModelNameBeginsWith
    shape = botocore.session.get_session().get_service_model("lookoutequipment").shape_for("ModelName")
    lookout_pattern = shape.metadata["pattern"]

    # When prefixes are given to the stack
    # Then it accepts the empty prefix (every model) and exactly the prefixes L4E would accept
    for prefix in ("", "pump-", "Pump_7", "a" * 200, "a" * 201, "pump 7", "pump/7", "pümp", "*"):
        expected = prefix == "" or re.search(lookout_pattern, prefix) is not None
        assert _accepts(template, "ModelNamePrefix", prefix) is expected, prefix


def test_one_run_at_a_time_with_room_for_one_safety_net_summary(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the poller's concurrency, timeout and memory, and those of the S3 trigger
    poller = _poller(resources)
    trigger = resources["DiagnosticsFunction"]["Properties"]

    # When they are compared
    # Then runs never overlap (one concurrent execution); a run may summarise one file the S3 trigger did
    # not alert, as fast as the trigger would (same memory, so the same vCPU, and the same time), and a
    # claim it makes outlives it
    assert poller["ReservedConcurrentExecutions"] == 1
    assert poller["MemorySize"] == trigger["MemorySize"]
    assert function_timeout(template, STATUS_POLLER) == function_timeout(template, "DiagnosticsFunction")
    claim_seconds = int(template["Globals"]["Function"]["Environment"]["Variables"]["CLAIM_SECONDS"])
    assert function_timeout(template, STATUS_POLLER) < claim_seconds


def test_a_failed_run_is_not_retried_the_next_scheduled_run_is(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given how EventBridge delivers the schedule and how Lambda handles the asynchronous invocation
    schedule = _schedule_event(resources)
    invoke = _poller(resources)["EventInvokeConfig"]

    # When a run fails, or cannot start while another runs
    # Then neither retries it (the next run does its work from the stored state), and a throttled run
    # waits no longer than one default interval, so runs never pile up behind a slow one
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert invoke["MaximumRetryAttempts"] == 0
    assert invoke["MaximumEventAgeInSeconds"] <= _default_interval(template)


# ----------------------------------------------------------------------- permissions
def _lookout_allowed_on(stack: Stack, resources: dict[str, Any], resource_arn: str) -> set[str]:
    return {
        op
        for op in lookout_operations()
        if function_allows(stack, resources, STATUS_POLLER, f"lookoutequipment:{op}", resource_arn)
    }


@BOTH_OPT_IN_VALUES
def test_poller_calls_only_the_lookout_operations_it_needs_on_this_accounts_models(
    template: dict[str, Any], resources: dict[str, Any], diagnostics_on_models: str
) -> None:
    # Given the poller's permissions, without and with diagnostics configured on models
    stack = Stack(template, EnableDiagnosticsOnModels=diagnostics_on_models)
    updates = {"UpdateModel"} if diagnostics_on_models == "true" else set()

    # When we ask which operations it may call on a model, one of its versions, and resources elsewhere
    # Then it lists models, reads models and versions, and updates models only when opted in
    assert _lookout_allowed_on(stack, resources, MODEL_ARN) == LIST | READS | updates
    assert _lookout_allowed_on(stack, resources, MODEL_VERSION_ARN) == LIST | READS | updates
    for elsewhere in (
        *MODELS_ELSEWHERE,
        lookout_arn("dataset/pump-7-data/4b5a6978"),
        lookout_arn("inference-scheduler/pump-7/99"),
    ):
        assert _lookout_allowed_on(stack, resources, elsewhere) == LIST, elsewhere


def test_a_model_name_prefix_confines_the_poller_to_those_models(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given a stack polling only the models named pump-*, configuring their diagnostics
    stack = Stack(template, ModelNamePrefix="pump-", EnableDiagnosticsOnModels="true")

    # When we ask what it may do with one of those models and with another team's model
    # Then it may read and update its own models only (listing cannot be scoped)
    assert _lookout_allowed_on(stack, resources, MODEL_ARN) == LIST | READS | {"UpdateModel"}
    assert _lookout_allowed_on(stack, resources, OTHER_TEAMS_MODEL) == LIST


def test_configuring_diagnostics_on_models_is_opt_in(template: dict[str, Any]) -> None:
    # Given a stack deployed with the defaults
    parameters = template["Parameters"]

    # When its parameters and condition are evaluated
    # Then the poller changes no model unless told to, and does not alert about models it first sees
    assert parameters["EnableDiagnosticsOnModels"]["Default"] == "false"
    assert parameters["AlertOnFirstSighting"]["Default"] == "false"
    for name in ("EnableDiagnosticsOnModels", "AlertOnFirstSighting"):
        assert sorted(parameters[name]["AllowedValues"]) == ["false", "true"]
    assert Stack(template).condition("EnableDiagnostics") is False
    assert Stack(template, EnableDiagnosticsOnModels="true").condition("EnableDiagnostics") is True


@BOTH_ROLE_MODES
@BOTH_OPT_IN_VALUES
def test_poller_passes_only_the_lookout_role_only_to_lookout_and_only_when_opted_in(
    template: dict[str, Any],
    resources: dict[str, Any],
    parameters: dict[str, str],
    passable_role: str,
    diagnostics_on_models: str,
) -> None:
    # Given the poller's permissions as deployed for this role mode, without and with the opt-in
    stack = Stack(template, EnableDiagnosticsOnModels=diagnostics_on_models, **parameters)
    opted_in = diagnostics_on_models == "true"

    def may_pass(role: str, context: dict[str, str] | None) -> bool:
        return function_allows(stack, resources, STATUS_POLLER, "iam:PassRole", role, context)

    # When it passes a role in UpdateModel's RoleArn
    # Then it may pass this deployment's Lookout role to Lookout for Equipment only when opted in
    assert may_pass(passable_role, {"iam:PassedToService": LOOKOUT_PRINCIPAL}) is opted_in
    assert grants_pass_role(policy_documents(stack, resources, STATUS_POLLER)) is opted_in
    # ... and never to another service, nor any other role
    for context in PASS_CONTEXTS[1:]:
        assert not may_pass(passable_role, context), context
    for role in (OTHER_ROLE, *(r for r in LOOKOUT_ROLES if r != passable_role)):
        for context in PASS_CONTEXTS:
            assert not may_pass(role, context), (role, context)


def test_poller_puts_events_only_on_this_accounts_default_bus(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the poller's permissions and the bus its code is told to put events on
    stack = Stack(template)
    bus = function_environment(template, STATUS_POLLER)["EVENT_BUS_NAME"]

    def may_put(bus_arn: str) -> bool:
        return function_allows(stack, resources, STATUS_POLLER, "events:PutEvents", bus_arn)

    # When we ask where it may put events
    # Then on that bus, which is this account's and region's default bus, and nowhere else
    assert bus == "default"
    assert may_put(f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}")
    assert not may_put(f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/partner-bus")
    assert not may_put(f"arn:aws:events:{REGION}:210987654321:event-bus/default")
    assert not may_put(f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default")


@BOTH_OPT_IN_VALUES
def test_poller_grants_nothing_beyond_polling_and_announcing(
    template: dict[str, Any], resources: dict[str, Any], diagnostics_on_models: str
) -> None:
    # Given every action the poller's policies grant, as deployed without and with the opt-in
    stack = Stack(template, EnableDiagnosticsOnModels=diagnostics_on_models)
    documents = policy_documents(stack, resources, STATUS_POLLER)
    actions = {
        action.lower()
        for document in documents
        for statement in document["Statement"]
        for action in as_list(statement.get("Action", "*"))
    }

    def may(action: str, resource_arn: str) -> bool:
        return function_allows(stack, resources, STATUS_POLLER, action, resource_arn)

    # When they are compared with what a run does
    # Then they are its inline statements only: list and read models (L4E's, and SiteWise's computation
    # models, executions, actions and assets), remember them, claim alerts, alert, announce, check and read
    # the watched bucket as the safety net; and configure diagnostics when opted in
    assert all(isinstance(p, dict) and "Statement" in p for p in as_list(_poller(resources)["Policies"]))
    expected = (
        {f"lookoutequipment:{op.lower()}" for op in LIST | READS}
        | {
            "dynamodb:getitem",
            "dynamodb:putitem",
            "dynamodb:updateitem",
            "dynamodb:deleteitem",
            "sns:publish",
            "events:putevents",
            "s3:getobject",
            "s3:getobjectversion",
            "s3:putobject",
            "s3:listbucket",
            "s3:getbucketnotification",
        }
        | {
            f"iotsitewise:{op}"
            for op in (
                "listcomputationmodels",
                "describecomputationmodel",
                "listexecutions",
                "describeexecution",
                "listactions",
                "describeaction",
                "describeasset",
            )
        }
    )
    if diagnostics_on_models == "true":
        expected |= {"lookoutequipment:updatemodel", "iam:passrole"}
    assert actions == expected
    # ... each on its own resource: the state table is read and written, never updated or deleted
    assert may("dynamodb:GetItem", STATE_TABLE) and may("dynamodb:PutItem", STATE_TABLE)
    assert not may("dynamodb:DeleteItem", STATE_TABLE) and not may("dynamodb:UpdateItem", STATE_TABLE)
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
        assert may(action, LEDGER), action
    assert may("sns:Publish", "<AlertTopic>")  # the stand-in for !Ref AlertTopic
    assert not may("sns:Publish", "<OpsTopic>")
    assert not may("events:PutEvents", STATE_TABLE)


# --------------------------------------------------------------------------- alarms
def _metrics_the_poller_emits() -> set[str]:
    """The metric names the handler passes to Powertools' add_metric (string constants of its module)."""
    spec = importlib.util.find_spec("handlers.status_poller")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _powertools_metric(template: dict[str, Any], resources: dict[str, Any], metric: str) -> dict[str, Any]:
    """The alarm on one of the poller's Powertools metrics, found where Powertools publishes it."""
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    # Powertools' EMF metrics carry one dimension, service = POWERTOOLS_SERVICE_NAME.
    service = ("service", environment["POWERTOOLS_SERVICE_NAME"])
    alarm = alarm_watching(resources, environment["POWERTOOLS_METRICS_NAMESPACE"], metric, service)
    assert alarm["Dimensions"] == [{"Name": service[0], "Value": service[1]}]
    assert metric in _metrics_the_poller_emits(), f"the handler emits no {metric}"
    return alarm


def test_models_the_poller_could_not_poll_alert_operations(template: dict[str, Any], resources: dict[str, Any]) -> None:
    # Given the alarm on the PollErrors metric the handler emits after each run
    alarm = _powertools_metric(template, resources, "PollErrors")

    # When a run reports one model it could not poll
    # Then the alarm goes off and notifies the operations topic (a run without errors, or no run, does not)
    assert alarm["Statistic"] == "Sum"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]


def _silence_window_seconds(template: dict[str, Any], alarm: dict[str, Any], minutes: str | None = None) -> int:
    """How long the stale alarm waits without a completed run, for PollerSilenceAlarmMinutes = `minutes`."""
    stack = Stack(template) if minutes is None else Stack(template, PollerSilenceAlarmMinutes=minutes)
    return int(alarm["Period"]) * int(stack.resolve(alarm["EvaluationPeriods"]))


def _longest_gap_between_completed_runs(template: dict[str, Any], resources: dict[str, Any], interval: int) -> int:
    """A run may wait to start (throttled behind the previous one) for its event's maximum age, then run until
    its timeout: the next completion comes at most that long after the interval."""
    waits = _poller(resources)["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
    return interval + waits + function_timeout(template, STATUS_POLLER)


def test_a_poller_that_stops_completing_runs_alerts_operations(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the alarm on how many runs completed (each emits one ModelsSeen sample, 0 models included)
    alarm = _powertools_metric(template, resources, "ModelsSeen")

    # When no run completes (failing, timing out, dropped or never started: no sample at all)
    # Then missing data counts against the poller, and only a window with no completed run at all alarms ...
    assert alarm["Statistic"] == "SampleCount"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]
    # ... a window of PollerSilenceAlarmMinutes (one-minute periods: CloudFormation cannot multiply), 35 by default
    assert alarm["Period"] == 60
    assert alarm["EvaluationPeriods"] == {"Ref": "PollerSilenceAlarmMinutes"}
    assert template["Parameters"]["PollerSilenceAlarmMinutes"]["Default"] == 35
    assert _silence_window_seconds(template, alarm) == 35 * 60
    assert _silence_window_seconds(template, alarm, "90") == 90 * 60
    # ... and its description says the window the deployment chose
    assert "for 90 minutes" in Stack(template, PollerSilenceAlarmMinutes="90").resolve(alarm["AlarmDescription"])


def test_the_default_silence_window_survives_one_missed_run_at_the_default_schedule(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the stale alarm's default window and the default schedule
    alarm = _powertools_metric(template, resources, "ModelsSeen")
    gap = _longest_gap_between_completed_runs(template, resources, _default_interval(template))

    # When one scheduled run is missed (failed or dropped) and the next waits and runs as long as it may
    # Then a healthy poller still completes a run inside the window: the alarm stays quiet
    assert _silence_window_seconds(template, alarm) > _default_interval(template) + gap


def test_the_silence_window_parameter_stays_within_what_cloudwatch_and_the_poller_allow(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given the bounds of PollerSilenceAlarmMinutes and the fastest schedule PollSchedule accepts
    parameter = template["Parameters"]["PollerSilenceAlarmMinutes"]
    alarm = _powertools_metric(template, resources, "ModelsSeen")
    fastest_gap = _longest_gap_between_completed_runs(template, resources, _rate_seconds("rate(1 minute)"))

    # When the smallest and the largest window are deployed
    # Then even the smallest lets a run that waited and ran its longest complete after the fastest schedule,
    # and the largest stays within CloudWatch's limit (periods under an hour: one day of evaluation at most)
    assert _silence_window_seconds(template, alarm, str(parameter["MinValue"])) > fastest_gap
    assert _silence_window_seconds(template, alarm, str(parameter["MaxValue"])) <= 86400
    # ... and both parameters tell the deployer how they constrain each other
    assert "PollerSilenceAlarmMinutes" in template["Parameters"]["PollSchedule"]["Description"]
    assert "PollSchedule" in parameter["Description"]


# -------------------------------------------------------------------------- outputs
def test_stack_outputs_name_the_state_table_and_the_poller(template: dict[str, Any]) -> None:
    # Given the stack's outputs
    outputs = template["Outputs"]

    # When the poller's are read
    # Then they name the table and the function this stack created
    assert outputs["ModelStateTableName"]["Value"] == {"Ref": "ModelStateTable"}
    assert outputs["StatusPollerFunctionName"]["Value"] == {"Ref": STATUS_POLLER}
