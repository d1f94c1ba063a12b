"""What statemachine/train_model.asl.json promises, checked on the file itself (no AWS account, no execution).

Neither `sam validate` nor cfn-lint reads a definition given by DefinitionUri, so these checks are
the only ones between a misspelt state name, error name or SDK operation and a failed deployment
or, worse, a Retry that never matches. The definition is checked against the ASL schema
(asl-validator, installed from package-lock.json), against botocore's service models, against
this project's exception classes and against the template's DefinitionSubstitutions and policies.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from lookout_diagnostics import errors
from lookout_diagnostics.domain.failures import describe_failure
from tests.support.botocore_fake import service_model
from tests.support.template import ROOT, load_template
from tests.support.tools import ASL_VALIDATOR, installed

ASL_PATH = ROOT / "statemachine" / "train_model.asl.json"
STATE_MACHINE = "TrainingStateMachine"
REPORT_FAILURE = "ReportFailure"

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
SDK_RESOURCE = re.compile(r"^arn:aws:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[a-zA-Z0-9]+)(\.\w+)?$")
SERVICE_INTEGRATION = re.compile(r"^arn:aws:states:::[a-z0-9-]+(:[a-zA-Z0-9]+)*(\.\w+)?$")

# Step Functions' own error names (Amazon States Language, "Errors"; AWS Step Functions developer guide).
STATES_ERRORS = {
    "States.ALL",
    "States.BranchFailed",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.QueryEvaluationError",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
}
# Lambda errors Step Functions reports under names of the Java SDK, not in botocore's Lambda model.
LAMBDA_SDK_ERRORS = {"AWSLambdaException", "SdkClientException", "Unknown"}
# What AWS recommends every Lambda task retry, and what every Lookout for Equipment call should.
TRANSIENT_LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
TRANSIENT_LOOKOUT_ERRORS = {"LookoutEquipment.ThrottlingException", "LookoutEquipment.InternalServerException"}
SIMPLE_STATE_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail"}


# --------------------------------------------------------------------------- loading
@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ASL_PATH.read_text())
    return document


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = definition["States"]
    # The walks below know no nested state machines: extend them before adding a Map or Parallel.
    assert {state["Type"] for state in found.values()} <= SIMPLE_STATE_TYPES
    return found


@pytest.fixture(scope="module")
def state_machine() -> dict[str, Any]:
    properties: dict[str, Any] = load_template()["Resources"][STATE_MACHINE]["Properties"]
    return properties


def error_shape_names(service: str) -> set[str]:
    return {shape.name for shape in service_model(service).error_shapes}


def strings(value: Any) -> Iterable[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def is_lambda_task(state: dict[str, Any]) -> bool:
    """A Task whose Resource is one of the stack's functions (a `${...FunctionArn}` substitution)."""
    return bool(re.fullmatch(r"\$\{\w+FunctionArn\}", state["Resource"]))


def sdk_operation(state: dict[str, Any]) -> tuple[str, str] | None:
    """(service, operation) of an aws-sdk Task: `...:aws-sdk:lookoutequipment:describeModel` -> DescribeModel."""
    match = SDK_RESOURCE.match(state["Resource"])
    if match is None:
        return None
    action = match["action"]
    return match["service"], action[0].upper() + action[1:]


def successors(state: dict[str, Any]) -> list[str]:
    """Every state this one can hand over to: Next, Default, Choice rules and Catch targets."""
    targets = [state[key] for key in ("Next", "Default") if key in state]
    targets += [rule["Next"] for rule in state.get("Choices", [])]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def reachable(states: dict[str, Any], start: str, *, blocked: str | None = None) -> set[str]:
    """The states reachable from `start` (itself included) on paths that do not enter `blocked`."""
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in seen or name == blocked:
            continue
        seen.add(name)
        pending += successors(states[name])
    return seen


def is_terminal(state: dict[str, Any]) -> bool:
    return state["Type"] in {"Succeed", "Fail"} or state.get("End") is True


# ------------------------------------------------------------------ schema (asl-validator)
def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed(ASL_VALIDATOR)), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_definition_is_valid_amazon_states_language() -> None:
    # Given the definition file as SAM uploads it (placeholders and all)
    # When asl-validator checks it against the ASL schema, its transitions and its paths
    result = _validate(ASL_PATH)

    # Then it is valid
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_transition_to_a_missing_state(definition: dict[str, Any], tmp_path: Path) -> None:
    # Given the definition with one transition pointing at a state that does not exist
    broken = json.loads(json.dumps(definition))
    broken["States"][broken["StartAt"]]["Next"] = "NoSuchState"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))

    # When asl-validator checks it
    result = _validate(path)

    # Then it fails, naming the problem (the gate above is not a no-op)
    assert result.returncode != 0
    assert "NoSuchState" in result.stdout + result.stderr


# ---------------------------------------------------------------- substitutions and ARNs
def test_every_placeholder_has_a_substitution_and_every_substitution_is_used(state_machine: dict[str, Any]) -> None:
    # Given the placeholders in the definition and the substitutions the template gives
    placeholders = set(PLACEHOLDER.findall(ASL_PATH.read_text()))
    substitutions = set(state_machine["DefinitionSubstitutions"])

    # When they are compared
    # Then each placeholder is filled (an unfilled one reaches AWS as a literal "${...}") and none is dead
    assert placeholders == substitutions
    assert state_machine["DefinitionUri"] == ASL_PATH.relative_to(ROOT).as_posix()


def test_definition_has_no_literal_arn_account_or_region(definition: dict[str, Any]) -> None:
    # Given every string in the definition
    found = list(strings(definition))

    # When we look for ARNs, account ids and region names
    arns = [s for s in found if "arn:" in s]
    account_ids = [s for s in found if re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", s)]
    regions = [s for s in found if re.search(r"\b(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-[a-z]+-[0-9]\b", s)]

    # Then the only ARNs are Step Functions' service integrations (no account, no region):
    # every resource of this stack comes in through a ${Placeholder}
    assert [arn for arn in arns if not SERVICE_INTEGRATION.match(arn)] == []
    assert account_ids == []
    assert regions == []


def test_every_task_resource_is_a_placeholder_or_a_service_integration(states: dict[str, Any]) -> None:
    # Given every Task's Resource
    # When it is classified
    unknown = [name for name, s in tasks(states).items() if not (is_lambda_task(s) or sdk_operation(s))]

    # Then each is one of the stack's functions or an AWS SDK integration the tests below check
    assert unknown == []


# ------------------------------------------------------------------------ transitions
def test_every_transition_target_exists(definition: dict[str, Any], states: dict[str, Any]) -> None:
    # Given every transition: StartAt, Next, Default, Choice rules and Catch targets
    targets = [definition["StartAt"], *(t for state in states.values() for t in successors(state))]

    # When each is looked up
    # Then it names a state of the definition
    assert [target for target in targets if target not in states] == []


def test_every_state_is_reachable(definition: dict[str, Any], states: dict[str, Any]) -> None:
    # Given the states reachable from StartAt through any transition
    # When they are compared with every state defined
    # Then none is dead code
    assert reachable(states, definition["StartAt"]) == set(states)


def test_every_task_retries_transient_errors_and_catches_everything(states: dict[str, Any]) -> None:
    # Given every Task state
    for name, state in tasks(states).items():
        # When its Retry and Catch are read
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        catchers = state.get("Catch", [])

        # Then it retries what is transient for its kind of task
        assert state.get("Retry"), f"{name} has no Retry"
        transient = TRANSIENT_LAMBDA_ERRORS if is_lambda_task(state) else TRANSIENT_LOOKOUT_ERRORS
        assert transient <= retried, f"{name} does not retry {transient - retried}"
        # ... and its last catcher catches everything and hands over to a state that exists
        assert catchers, f"{name} has no Catch"
        assert catchers[-1]["ErrorEquals"] == ["States.ALL"], f"{name}: the last catcher is not States.ALL"
        assert catchers[-1]["Next"] in states
        # ... keeping the state's input beside the error, so the failure step knows what was running
        assert catchers[-1].get("ResultPath", "$") != "$", f"{name}'s Catch replaces the state's input"


def test_every_retry_and_catch_names_an_error_that_can_happen(states: dict[str, Any]) -> None:
    # Given the error names Lambda, Lookout for Equipment and this project's code can raise
    own_errors = {
        name
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.LookoutAutomationError) and cls.__module__ == errors.__name__
    }
    lambda_errors = {f"Lambda.{name}" for name in error_shape_names("lambda") | LAMBDA_SDK_ERRORS}
    lookout_errors = {f"LookoutEquipment.{name}" for name in error_shape_names("lookoutequipment")}

    # When every ErrorEquals of every Retry and Catch is checked against the names its task can see
    unknown = []
    for name, state in tasks(states).items():
        possible = STATES_ERRORS | (lambda_errors | own_errors if is_lambda_task(state) else lookout_errors)
        for handler in (*state.get("Retry", []), *state.get("Catch", [])):
            unknown += [(name, error) for error in handler["ErrorEquals"] if error not in possible]

    # Then none is misspelt or misplaced: such a name never matches, silently (e.g. States.TaskFailedId)
    assert unknown == []


# ----------------------------------------------------------------------- failure paths
def test_every_failure_ends_through_the_failure_report(definition: dict[str, Any], states: dict[str, Any]) -> None:
    # Given the paths from StartAt that do not go through the failure report
    bypassing = reachable(states, definition["StartAt"], blocked=REPORT_FAILURE)

    # When we look at where they can end
    ends = {name for name in bypassing if is_terminal(states[name])}

    # Then only the success path ends without the report: every Fail state comes after it
    assert {states[name]["Type"] for name in ends} == {"Succeed"}
    assert len(ends) == 1, f"more than one way to succeed: {sorted(ends)}"
    # ... and once the report has been entered, the execution can only fail
    after_report = reachable(states, REPORT_FAILURE)
    assert {name for name in after_report if is_terminal(states[name])} == {
        name for name in after_report if states[name]["Type"] == "Fail"
    }
    assert not any(states[name]["Type"] == "Succeed" for name in after_report)


# The one Catch that is not a failure: the model is trained and its alert belongs to another path.
ALERT_PENDING = "AlertPending"


def test_every_caught_error_goes_to_the_failure_report(states: dict[str, Any]) -> None:
    # Given every Catch of every Task but the failure report itself, and the pending-alert one
    for name, state in tasks(states).items():
        if name == REPORT_FAILURE:
            continue
        for catcher in state["Catch"]:
            if catcher["Next"] == ALERT_PENDING:
                continue
            # When we follow it without entering the report
            # Then it cannot end anywhere before reaching the report
            ends = [s for s in reachable(states, catcher["Next"], blocked=REPORT_FAILURE) if is_terminal(states[s])]
            assert ends == [], f"{name}'s Catch can end in {ends} without reporting the failure"
            assert REPORT_FAILURE in reachable(states, catcher["Next"])


def test_only_an_alert_owned_by_another_path_ends_a_trained_model_without_its_alert(states: dict[str, Any]) -> None:
    # Given the Catches that do not lead to the failure report
    pending = {
        (name, error)
        for name, state in tasks(states).items()
        for catcher in state["Catch"]
        if catcher["Next"] == ALERT_PENDING
        for error in catcher["ErrorEquals"]
    }

    # When they are read
    # Then only FinishTraining has one, for a file not in S3 yet and an alert another path is sending (the S3
    # trigger sends it, or the status poller's safety net), and it ends the execution as trained, saying so
    assert pending == {("FinishTraining", "DiagnosticsNotReadyError"), ("FinishTraining", "AlertInProgressError")}
    assert states[ALERT_PENDING]["Parameters"]["Alert"] == "PENDING"
    assert states[states[ALERT_PENDING]["Next"]]["Type"] == "Succeed"


def test_the_report_that_cannot_alert_fails_at_once(states: dict[str, Any]) -> None:
    # Given the failure report's own Catch (its alert could not be sent)
    report = states[REPORT_FAILURE]

    # When it is followed
    targets = {catcher["Next"] for catcher in report["Catch"]} | {report["Next"]}

    # Then both the report's success and its own failure end the execution as failed, with no loop back
    assert all(states[target]["Type"] == "Fail" for target in targets), targets


def test_every_fail_state_is_reached_from_a_catch_or_a_choice(states: dict[str, Any]) -> None:
    # Given where errors and decisions lead
    entries = [c["Next"] for s in states.values() for c in s.get("Catch", [])]
    entries += [rule["Next"] for s in states.values() for rule in s.get("Choices", [])]
    reached = set().union(*(reachable(states, entry) for entry in entries))

    # When the Fail states are looked up there
    fails = {name for name, state in states.items() if state["Type"] == "Fail"}

    # Then each is a real failure path, not dead code
    assert fails
    assert fails <= reached


def test_errors_the_definition_raises_itself_are_explained_to_people(states: dict[str, Any]) -> None:
    # Given the error names the definition sets itself (Pass states writing the error the report reads)
    own = [
        (state.get("Result") or state.get("Parameters") or {}).get("Error")
        for state in states.values()
        if state["Type"] == "Pass" and state.get("ResultPath") == "$.error"
    ]

    # When the failure report describes each
    # Then each is known to it (an unknown name would be reported as an unexpected WorkflowError)
    assert own, "no failure named by the definition: the walk is broken"
    assert all(name and describe_failure(name, "").Error != "WorkflowError" for name in own), own


# ------------------------------------------------------------------ service integrations
def test_every_sdk_task_calls_an_existing_lookout_operation_with_its_parameters(states: dict[str, Any]) -> None:
    # Given every AWS SDK task
    sdk_tasks = {name: sdk for name, state in tasks(states).items() if (sdk := sdk_operation(state))}
    assert sdk_tasks, "no AWS SDK task found: the walk is broken"

    for name, (service, operation) in sdk_tasks.items():
        # When its operation, parameters and selected results are looked up in botocore's model
        assert service == "lookoutequipment", f"{name} calls {service}: extend these checks to it"
        model = service_model(service)
        assert operation in model.operation_names, f"{name}: {service} has no operation {operation}"
        input_shape = model.operation_model(operation).input_shape
        output_shape = model.operation_model(operation).output_shape
        state = states[name]

        # Then every parameter it sets exists, and the required ones are all set
        if "Parameters" in state:
            given = {key.removesuffix(".$") for key in state["Parameters"]}
            assert given <= set(input_shape.members), f"{name}: unknown parameters {given - set(input_shape.members)}"
            assert set(input_shape.required_members) <= given, f"{name}: missing {input_shape.required_members}"
        else:
            assert "InputPath" in state, f"{name} sends no parameters"
        # ... and every field it selects from the response exists
        for path in (v for k, v in state.get("ResultSelector", {}).items() if k.endswith(".$")):
            field = re.match(r"^\$\.(\w+)", path)
            assert field is not None and field[1] in output_shape.members, f"{name}: {path} is not in the response"


def test_training_status_is_compared_with_values_lookout_reports(states: dict[str, Any]) -> None:
    # Given the Choice rules on the model's status (DescribeModel's Status, kept at $.model)
    values = [
        rule["StringEquals"]
        for state in states.values()
        for rule in state.get("Choices", [])
        if rule.get("Variable") == "$.model.Status"
    ]
    known = service_model("lookoutequipment").operation_model("DescribeModel").output_shape.members["Status"].enum

    # When they are compared with the service's ModelStatus enum
    # Then each exists (a misspelt status is never matched and the workflow polls until it gives up)
    assert {"SUCCESS", "FAILED"} <= set(values)
    assert set(values) <= set(known)


# ------------------------------------------------------------------- definition and role
def test_the_role_allows_exactly_the_operations_the_definition_calls(
    states: dict[str, Any], state_machine: dict[str, Any]
) -> None:
    # Given the Lookout for Equipment operations the definition calls and those the role allows
    called = {f"lookoutequipment:{sdk[1]}" for state in tasks(states).values() if (sdk := sdk_operation(state))}
    granted = {
        action
        for policy in state_machine["Policies"]
        if "Statement" in policy
        for statement in policy["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("lookoutequipment:")
    }

    # When they are compared
    # Then no call is denied, and nothing is granted that is not called (CreateModel, and the TagResource
    # it depends on, are the StartTraining function's, not the state machine's)
    assert called, "no AWS SDK task found: the walk is broken"
    assert granted == called


def test_the_role_may_invoke_exactly_the_functions_the_definition_invokes(
    states: dict[str, Any], state_machine: dict[str, Any]
) -> None:
    # Given the functions the definition's Lambda tasks name, through their substitutions
    substitutions = state_machine["DefinitionSubstitutions"]
    invoked = {
        substitutions[state["Resource"][2:-1]]["Fn::GetAtt"][0]  # "${Name}" -> Name
        for state in tasks(states).values()
        if is_lambda_task(state)
    }
    # ... and those the role may invoke
    invocable = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in state_machine["Policies"]
        if "LambdaInvokePolicy" in policy
    }

    # When they are compared
    # Then every invocation is allowed, and no other function may be invoked
    resources = load_template()["Resources"]
    assert all(resources[name]["Type"] == "AWS::Serverless::Function" for name in invoked)
    assert invoked == invocable
