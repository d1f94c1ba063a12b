"""What the operations dashboard of template.yaml shows, checked on the template and the handlers' code.

The dashboard's body is a JSON string behind !Sub: it is resolved with tests/support/iam_policies.py's Stack, so a
stand-in replaces each ${Resource} and ${AWS::...}, and then read as JSON. The metric names the code
emits are read from the handlers' `add_metric(name=...)` calls, without importing them.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from tests.support.iam_policies import ACCOUNT, REGION, Stack
from tests.support.template import ALARMS, FUNCTIONS, QUEUES, TEMPLATE

HANDLERS = TEMPLATE.parent / "src" / "handlers"
DASHBOARD = "OperationsDashboard"
# What operations asked to see (issue "Nothing lost, nobody in"), by the code that emits it.
BUSINESS_METRICS = {
    # the S3 trigger
    "DiagnosticsSummarised",
    "AnomalousEvents",
    "UnreadableFiles",
    "DuplicateDeliveries",
    # the training workflow
    "TrainingsSucceeded",
    "WorkflowFailures",
    # the status poller
    "ModelsSeen",
    "Transitions",
    "AlertsSent",
    "EventsPut",
    "UncoveredModels",
    "PollErrors",
}
PSEUDO_PARAMETERS = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}


def _body(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The dashboard body's text and its !Sub variables (the rows shown only when a condition holds)."""
    body = template["Resources"][DASHBOARD]["Properties"]["DashboardBody"]
    assert set(body) == {"Fn::Sub"}, "DashboardBody is not a !Sub"
    text, variables = body["Fn::Sub"] if isinstance(body["Fn::Sub"], list) else (body["Fn::Sub"], {})
    assert isinstance(text, str)
    return text, variables


@pytest.fixture(scope="module")
def body_text(template: dict[str, Any]) -> str:
    """The dashboard body as written in the template, placeholders and all, each variable's fragment
    written in (as deployed with its condition true)."""
    text, variables = _body(template)
    for name, value in variables.items():
        fragment = value["Fn::If"][1]["Fn::Sub"] if "Fn::If" in value else value
        text = text.replace(f"${{{name}}}", fragment)
    return text


@pytest.fixture(scope="module")
def widgets(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's widgets as CloudWatch receives them (stand-ins for the substituted values)."""
    resolved = Stack(template).resolve(template["Resources"][DASHBOARD]["Properties"]["DashboardBody"])
    found: list[dict[str, Any]] = json.loads(resolved)["widgets"]
    return found


def test_without_sitewise_the_dashboard_is_still_valid_json_without_its_rows(template: dict[str, Any]) -> None:
    # Given a stack deployed with EnableIoTSiteWise=false
    stack = Stack(template, EnableIoTSiteWise="false")

    # When its dashboard body is resolved
    body = json.loads(stack.resolve(template["Resources"][DASHBOARD]["Properties"]["DashboardBody"]))

    # Then it parses, and names nothing of SiteWise's workflow
    assert "SiteWise" not in json.dumps(body).replace("AWS IoT SiteWise)", "")


def _metric_rows(widgets: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, name, dimensions, options) of every metric of every metric widget.

    A row is [namespace, name, dim1, value1, ..., {options}]; "." repeats the previous row's item,
    as CloudWatch reads it.
    """
    rows = []
    for widget in widgets:
        previous: list[Any] = []
        for row in widget["properties"].get("metrics", []) if widget["type"] == "metric" else []:
            options = row[-1] if isinstance(row[-1], dict) else {}
            items = [previous[i] if item == "." else item for i, item in enumerate(row[:-1] if options else row)]
            assert "expression" not in options, "metric math: extend this walk to read it"
            namespace, name, *pairs = items
            assert len(pairs) % 2 == 0, row
            rows.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options))
            previous = items
    return rows


def _add_metric_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_metric"
    ]


def _name_argument(call: ast.Call) -> ast.expr:
    named = [keyword.value for keyword in call.keywords if keyword.arg == "name"]
    return named[0] if named else call.args[0]


def metrics_the_code_emits() -> set[str]:
    """Every metric name passed to Powertools' add_metric in src/handlers.

    A literal name is taken as it is; a name bound by a `for name, value in ((...), ...)` loop is taken from
    the loop's literal rows. Any other form fails, rather than being silently ignored.
    """
    names: set[str] = set()
    for path in sorted(HANDLERS.glob("*.py")):
        tree = ast.parse(path.read_text())
        from_loops: set[ast.Call] = set()
        for loop in (node for node in ast.walk(tree) if isinstance(node, ast.For)):
            if not (isinstance(loop.target, ast.Tuple) and isinstance(loop.iter, ast.Tuple | ast.List)):
                continue
            targets = [item.id if isinstance(item, ast.Name) else None for item in loop.target.elts]
            for call in _add_metric_calls(loop):
                argument = _name_argument(call)
                if isinstance(argument, ast.Name) and argument.id in targets:
                    position = targets.index(argument.id)
                    for row in loop.iter.elts:
                        assert isinstance(row, ast.Tuple | ast.List), f"{path.name}:{row.lineno}: not a literal row"
                        names.add(ast.literal_eval(row.elts[position]))
                    from_loops.add(call)
        for call in _add_metric_calls(tree):
            argument = _name_argument(call)
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
            elif call not in from_loops:
                raise AssertionError(f"{path.name}:{call.lineno}: cannot tell which metric add_metric emits")
    return names


# ----------------------------------------------------------------------------- the code's metrics
def test_the_handlers_emit_every_business_metric_operations_asked_for() -> None:
    # Given the handlers' source
    # When the metric names they pass to add_metric are collected (literal and loop-bound names)
    emitted = metrics_the_code_emits()

    # Then every metric the dashboard is meant to show is among them (the walk below is not a no-op)
    assert emitted >= BUSINESS_METRICS, BUSINESS_METRICS - emitted


def test_the_dashboard_shows_only_metrics_the_code_emits_where_powertools_publishes_them(
    template: dict[str, Any], widgets: list[dict[str, Any]]
) -> None:
    # Given the namespace and service Powertools publishes under (Globals) and the dashboard's metrics
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    namespace = environment["POWERTOOLS_METRICS_NAMESPACE"]
    service = {"service": environment["POWERTOOLS_SERVICE_NAME"]}
    own = [(name, dimensions) for ns, name, dimensions, _ in _metric_rows(widgets) if ns == namespace]

    # When each is compared with what the handlers emit
    shown = {name for name, _ in own}

    # Then each is a metric the code emits (a misspelt or removed one would show an empty graph),
    # under Powertools' one dimension, and every business metric is there
    assert shown <= metrics_the_code_emits(), shown - metrics_the_code_emits()
    assert all(dimensions == service for _, dimensions in own), own
    assert shown >= BUSINESS_METRICS, BUSINESS_METRICS - shown


def test_the_dashboard_shows_every_functions_errors_failed_executions_and_dead_letters(
    widgets: list[dict[str, Any]],
) -> None:
    # Given the AWS metrics on the dashboard
    rows = {(ns, name, tuple(sorted(dimensions.items()))) for ns, name, dimensions, _ in _metric_rows(widgets)}

    # When the ones operations watch are looked up, as the stand-ins of this stack's resources
    # Then every function's errors, the state machine's failed executions and every queue's depth are shown
    for function in FUNCTIONS:
        assert ("AWS/Lambda", "Errors", (("FunctionName", f"<{function}>"),)) in rows, function
    assert ("AWS/States", "ExecutionsFailed", (("StateMachineArn", "<TrainingStateMachine>"),)) in rows
    for queue in QUEUES:
        depth = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", f"<{queue}.QueueName>"),))
        assert depth in rows, queue


def test_the_dashboard_shows_the_state_of_every_alarm(widgets: list[dict[str, Any]]) -> None:
    # Given the dashboard's alarm widgets
    shown = [arn for widget in widgets if widget["type"] == "alarm" for arn in widget["properties"]["alarms"]]

    # When they are compared with the stack's alarms (their ARNs, as the stand-ins of !GetAtt Alarm.Arn)
    expected = [f"arn:aws:test:{REGION}:{ACCOUNT}:{alarm}" for alarm in ALARMS]

    # Then each alarm is shown once, and nothing else
    assert sorted(shown) == sorted(expected)


# --------------------------------------------------------------------------- no literal anything
def test_the_dashboard_names_resources_only_through_substitutions(template: dict[str, Any], body_text: str) -> None:
    # Given the body as written, and every ${...} in it
    placeholders = set(re.findall(r"\$\{([^}]+)\}", body_text))
    resources = template["Resources"]
    parameters = template["Parameters"]

    # When we look for account ids, regions and ARNs written out, and at what each placeholder names
    account_ids = re.findall(r"(?<![0-9])[0-9]{12}(?![0-9])", body_text)
    regions = re.findall(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-[a-z]+-[0-9]\b", body_text)

    # Then there are none: the account, the region and every resource come from the deployment
    assert account_ids == []
    assert regions == []
    assert "arn:" not in body_text
    # ... and each placeholder is a pseudo parameter, a parameter, or a resource (or its attribute) of this stack
    for placeholder in placeholders:
        name = placeholder.split(".", 1)[0]
        assert placeholder in PSEUDO_PARAMETERS or name in resources or name in parameters, placeholder
    assert {"AWS::Region"} <= placeholders


def test_every_metric_widget_shows_this_stacks_region(widgets: list[dict[str, Any]]) -> None:
    # Given the dashboard's metric widgets
    regions = {widget["properties"]["region"] for widget in widgets if widget["type"] == "metric"}

    # When their regions are read
    # Then they all show the region the stack is deployed in (the stand-in for ${AWS::Region})
    assert regions == {REGION}


def test_the_stack_outputs_the_dashboards_name_and_console_url(template: dict[str, Any]) -> None:
    # Given the stack's outputs and the dashboard's name, as deployed
    stack = Stack(template)
    outputs = template["Outputs"]
    dashboard = template["Resources"][DASHBOARD]

    # When they are resolved
    url = stack.resolve(outputs["DashboardUrl"]["Value"])

    # Then they name the dashboard of this stack; its name is unique per stack and region (dashboards are global)
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    assert outputs["DashboardName"]["Value"] == {"Ref": DASHBOARD}
    assert url.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards")
    assert url.endswith(f"<{DASHBOARD}>")
    assert stack.resolve(dashboard["Properties"]["DashboardName"]) == "lookout-diagnostics-eu-west-1"
