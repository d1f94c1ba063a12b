"""Read template.yaml (CloudFormation short tags included) so emulations and tests follow the real stack."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """Turns `!Ref X` into {"Ref": "X"} and `!Sub ...` into {"Fn::Sub": ...}, as CloudFormation does."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):  # the two short tags whose long form has no "Fn::"
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


@cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)
    return document


def resource(logical_id: str) -> dict[str, Any]:
    resources: dict[str, Any] = load_template()["Resources"]
    return resources[logical_id]


def fresh_template() -> dict[str, Any]:
    """The template with short tags in their long form (a copy: a test may not change the shared one).

    Copied through JSON: YAML aliases load as one shared object, which a deep copy would keep shared."""
    copied: dict[str, Any] = json.loads(json.dumps(load_template()))
    return copied


def logical_ids(resource_type: str) -> list[str]:
    """The template's resources of one type, sorted."""
    return sorted(name for name, r in load_template()["Resources"].items() if r["Type"] == resource_type)


# Read at collection, so tests can be parametrised over them.
FUNCTIONS = logical_ids("AWS::Serverless::Function")
QUEUES = logical_ids("AWS::SQS::Queue")
ALARMS = logical_ids("AWS::CloudWatch::Alarm")
LOG_GROUPS = logical_ids("AWS::Logs::LogGroup")
WORKFLOW_FUNCTIONS = {"StartTrainingFunction", "TrainingFinishedFunction", "TrainingFailedFunction"}
# The one step that calls CreateModel, and so the only one that passes the Lookout role (besides the
# status poller, and that only when the stack is told to configure diagnostics on models).
START_TRAINING = "StartTrainingFunction"
STATUS_POLLER = "StatusPollerFunction"


def function_environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    """What Lambda gives the deployed function: Globals merged with the function's own variables."""
    from_globals = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return dict(from_globals | own)


def function_timeout(template: dict[str, Any], function: str) -> int:
    """The function's timeout in seconds (Lambda's default is 3 when neither it nor Globals sets one)."""
    return int(
        template["Resources"][function]["Properties"].get("Timeout", template["Globals"]["Function"].get("Timeout", 3))
    )


def alarm_watching(
    resources: dict[str, Any], namespace: str, metric: str, dimension: tuple[str, Any] | None = None
) -> dict[str, Any]:
    """The one alarm on `metric` (with `dimension` among its dimensions, if given)."""
    (alarm,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["Namespace"] == namespace
        and r["Properties"]["MetricName"] == metric
        and (dimension is None or {"Name": dimension[0], "Value": dimension[1]} in r["Properties"]["Dimensions"])
    ]
    return dict(alarm)


STATE_MACHINES = logical_ids("AWS::Serverless::StateMachine")
SITEWISE_TRAINING = "SiteWiseTrainingFunction"
FLEET_FUNCTION = "FleetFunction"
# Settings only the fleet's function is given (the single-asset workflows it starts): a function of a
# workflow cannot name its own state machine without a circular dependency, and needs none.
FLEET_ONLY_SETTINGS = {"TRAINING_STATE_MACHINE_ARN", "SITEWISE_TRAINING_STATE_MACHINE_ARN"}


def state_machine_properties(resources: dict[str, Any], name: str = "TrainingStateMachine") -> dict[str, Any]:
    """The properties of one of the template's state machines (L4E's training workflow unless named)."""
    return dict(resources[name]["Properties"])


# The names the emulation gives the template's state machines (tests/support/workflow.py creates them so): the
# fleet's is the template's own `${AWS::StackName}-fleet` for the stack name the policy tests use.
STATE_MACHINE_NAMES = {
    "TrainingStateMachine": "lookout-diagnostics-training",
    "SiteWiseTrainingStateMachine": "lookout-diagnostics-sitewise-training",
    "FleetStateMachine": "lookout-diagnostics-fleet",
}


def event_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the parts this template uses: exact values and suffix filters."""
    for field, expected in pattern.items():
        actual = event.get(field)
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not event_matches(expected, actual):
                return False
            continue
        if not any(
            (isinstance(option, dict) and isinstance(actual, str) and actual.endswith(option["suffix"]))
            or option == actual
            for option in expected
        ):
            return False
    return True
