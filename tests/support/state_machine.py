"""Execute a real Amazon States Language definition in moto's interpreter, in-process and without sleeping.

moto 5.2 runs state machines with LocalStack's ASL interpreter when its Step Functions config says
``execute_state_machine``. This harness makes such an execution exercise the project's own code:

- Lambda tasks (``arn:aws:states:::lambda:invoke`` or a function ARN as Resource) call the real Python
  handler in-process, in moto's executor thread, with the decoded payload and a LocalContext. An
  exception is answered as Lambda answers it (``x-amz-function-error: Unhandled`` and
  ``{errorMessage, errorType, stackTrace}``), so the execution sees the exception's class name as the
  error and Retry/Catch on our own error names are exercised.
- aws-sdk tasks go through botocore clients that moto's executor creates from boto3's default session:
  a FakeLookout installed after the mock started answers the ``lookoutequipment`` ones. moto names
  their errors ``lookoutequipment.X``; the harness teaches it AWS's spelling ``LookoutEquipment.X``.
- With a ``LambdaRuntime`` (tests/support/iam.py, IAM enforcement on; the one running unless another is given),
  each Lambda step runs under its function's role from template.yaml, and the state machine's own SDK
  calls (aws-sdk tasks, its Lambda invocations) under the role of the template's state machine named
  by ``create(..., identity=...)``.
- Wait states and Retry intervals do not sleep: the seconds asked for are recorded in ``waits`` and
  ``retry_intervals`` so tests can assert on them.
- ``${Placeholders}`` are substituted as CloudFormation's DefinitionSubstitutions do (plain text), and
  strictly: a placeholder without a value, or a value no placeholder uses, is an error.
- A stopped execution is ABORTED, as in AWS, whatever its thread was doing when StopExecution came.
  moto's thread carries on with the state it is in and, when that state then fails (a task's error,
  or moto's own RuntimeError on choosing the next state of a stopped program), moto let the error
  replace the stop: the execution ended FAILED. Leaving the harness stops what still runs and joins
  moto's threads, so what it stopped is reliably ABORTED.

The harness starts ``mock_aws(config=MOCK_CONFIG)`` itself. Inside an already started mock (the
``aws`` or ``lookout`` fixtures) it nests: moto keeps the outer mock's data and boto3 session, and the
harness puts moto's configuration back as it found it when it exits. Install a FakeLookout after
the harness has started when the harness starts the first mock (starting the first mock replaces
boto3's default session)::

    with EmulatedStateMachine() as machine, FakeLookout() as lookout:
        lookout.train_on_create("pump", in_progress_polls=2)
        start = machine.register_function("StartTrainingFunction", start_training.lambda_handler)
        machine.create(ASL, {"StartTrainingFunctionArn": start})
        result = machine.run({"ModelName": "pump"})
        assert result.status == "SUCCEEDED", result.error
        assert states_entered(result)[:2] == ["StartTraining", "StartPolling"]
"""

from __future__ import annotations

import io
import json
import re
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from unittest import mock

import boto3
import botocore.session
from botocore.config import Config
from moto import mock_aws
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import DefaultConfig, default_user_config
from moto.stepfunctions.parser import utils as sfn_parser_utils
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3 as result_writer_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_callback,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import Execution

from tests.support.lambda_context import LocalContext
from tests.support.template import load_template

if TYPE_CHECKING:
    from tests.support.iam import LambdaRuntime

MOCK_CONFIG: Final[DefaultConfig] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
# AWS's spelling of the service in aws-sdk error names ("LookoutEquipment.ThrottlingException").
SERVICE_ERROR_NAMES: Final[Mapping[str, str]] = {"lookoutequipment": "LookoutEquipment"}
# A Standard workflow execution fails beyond this many history events.
HISTORY_EVENT_QUOTA: Final = 25_000
# Errors that AWS never lets a Retry or Catch handle, not even States.ALL: they always fail the execution.
# moto's interpreter catches them; the harness does not let it.
UNCATCHABLE_ERRORS: Final = frozenset({"States.Runtime", "States.DataLimitExceeded"})
STATE_MACHINE_TYPES: Final = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_POLL_INTERVAL_S = 0.01  # real time between describe_execution calls while waiting for an execution
_THREAD_JOIN_TIMEOUT_S = 10.0

LambdaHandler = Callable[[Any, Any], Any]


# --------------------------------------------------------------------------------------------------
# Definition substitutions
# --------------------------------------------------------------------------------------------------


class SubstitutionError(ValueError):
    """DefinitionSubstitutions that do not fit the definition."""


def definition_placeholders(definition: str) -> set[str]:
    """The names of the ``${Name}`` placeholders in a definition's text."""
    return set(_PLACEHOLDER.findall(definition))


def substitute(definition: str, values: Mapping[str, str]) -> str:
    """Replace every ``${Name}`` by its value, as text (as CloudFormation does); the result must be JSON.

    Raises SubstitutionError if a placeholder has no value or a value is not used.
    """
    placeholders = definition_placeholders(definition)
    missing, unused = placeholders - values.keys(), values.keys() - placeholders
    problems = [f"no value for ${{{name}}}" for name in sorted(missing)]
    problems += [f"value {name!r} is used by no placeholder" for name in sorted(unused)]
    if problems:
        raise SubstitutionError("; ".join(problems))
    substituted = _PLACEHOLDER.sub(lambda match: values[match.group(1)], definition)
    try:
        json.loads(substituted)
    except json.JSONDecodeError as error:
        raise SubstitutionError(f"the substituted definition is not JSON: {error}") from error
    return substituted


def substituted_definition(asl_path: Path | str, values: Mapping[str, str]) -> str:
    """The ASL file's text with its placeholders substituted (see substitute)."""
    return substitute(Path(asl_path).read_text(encoding="utf-8"), values)


def template_substitution_keys(template: Mapping[str, Any] | None = None, logical_id: str | None = None) -> set[str]:
    """The DefinitionSubstitutions keys of the template's state machine(s) (template.yaml by default),
    of all of them unless `logical_id` names one."""
    resources: Mapping[str, Any] = (template if template is not None else load_template())["Resources"]
    if logical_id is not None and logical_id not in resources:
        raise KeyError(f"template has no resource {logical_id}")
    keys: set[str] = set()
    for name, definition in resources.items():
        if definition.get("Type") in STATE_MACHINE_TYPES and logical_id in (None, name):
            keys |= set(definition.get("Properties", {}).get("DefinitionSubstitutions", {}))
    return keys


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutionResult:
    """How an execution ended; `output` is the parsed JSON output (SUCCEEDED only)."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """The history events of one type, e.g. "TaskScheduled" or "LambdaFunctionFailed"."""
        return [event for event in self.history if event["type"] == event_type]


def states_entered(result: ExecutionResult) -> list[str]:
    """The names of the states entered, in order (a state entered twice appears twice)."""
    return [
        event["stateEnteredEventDetails"]["name"] for event in result.history if event["type"].endswith("StateEntered")
    ]


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation routed to a Python handler."""

    function_name: str
    event: Any
    result: Any = None
    error: BaseException | None = None


# --------------------------------------------------------------------------------------------------
# The harness
# --------------------------------------------------------------------------------------------------


@dataclass
class _Recorder:
    """Stands in for the time module inside moto's retrier: records the intervals instead of sleeping."""

    seconds: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.seconds.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class EmulatedStateMachine:
    """A state machine executed by moto's ASL interpreter, with Lambda tasks routed to Python handlers."""

    def __init__(self, *, role_name: str = "state-machine-harness", runtime: LambdaRuntime | None = None) -> None:
        self.role_name = role_name
        if runtime is None:  # with IAM enforced (a LambdaRuntime running), the steps run under their roles
            from tests.support.iam import active_runtime

            runtime = active_runtime()
        self.runtime = runtime
        self.identity: str | None = None  # the template's state machine this one is (create's identity)
        self._identities: dict[str, str] = {}  # role ARN -> the template's state machine (several may be created)
        self.invocations: list[Invocation] = []
        self.waits: list[float] = []  # seconds asked for by Wait states, in order
        self._retries = _Recorder()
        self._handlers: dict[str, LambdaHandler] = {}
        self._executions: list[str] = []
        self._stack: ExitStack | None = None
        self._threads_before: set[int] = set()
        self._role_arn: str | None = None
        self._clients: dict[str, Any] = {}
        self.state_machine_arn: str | None = None

    @property
    def retry_intervals(self) -> list[float]:
        """Seconds asked for between Retry attempts, in order (IntervalSeconds x BackoffRate^n)."""
        return self._retries.seconds

    # ---- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("EmulatedStateMachine is already started")
        stack = ExitStack()
        try:
            # Restores moto's configuration on exit even when nested (a nested mock_aws leaves it set).
            stack.enter_context(mock.patch.dict(default_user_config, dict(MOCK_CONFIG)))
            stack.enter_context(mock_aws(config=MOCK_CONFIG))
            stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", self._invoke_function()))
            if self.runtime is not None:
                for module in (
                    lambda_eval_utils,
                    state_task_service_aws_sdk,
                    state_task_service_sfn,
                    item_reader_s3,
                    result_writer_s3,
                ):
                    stack.enter_context(mock.patch.object(module, "boto_client_for", self._sdk_client))
            # A .sync task checks its child every half second in moto: not in tests.
            stack.enter_context(
                mock.patch.object(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", _POLL_INTERVAL_S)
            )
            stack.enter_context(
                mock.patch.object(DistributedIterationComponent, "_map_run", _tolerated_failures_as_in_aws())
            )
            stack.enter_context(
                mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", _sfn_request_as_aws_maps_it)
            )
            stack.enter_context(
                mock.patch.object(StateTaskServiceSfn, "_normalise_response", _sfn_response_as_aws_writes_it)
            )
            stack.enter_context(mock.patch.object(retrier_decl, "time", self._retries))
            stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", self._wait_function()))
            stack.enter_context(
                mock.patch.dict(state_task_service_aws_sdk._SERVICE_ERROR_NAMES, dict(SERVICE_ERROR_NAMES))
            )
            stack.enter_context(
                mock.patch.object(StateTaskServiceAwsSdk, "_eval_service_task", _timestamps_as_aws_writes_them())
            )
            stack.enter_context(mock.patch.object(ErrorEqualsDecl, "_eval_body", _uncatchable_as_in_aws()))
            for ending in ("set_error", "set_timed_out"):
                stack.enter_context(
                    mock.patch.object(Environment, ending, _unless_stopped(getattr(Environment, ending)))
                )
            # moto deep-copies the state machine, past executions included, on every start_execution:
            # from the second execution on that fails (their worker threads hold locks). The copy
            # only needs the definition: past executions are shared instead.
            stack.enter_context(mock.patch.object(Execution, "__deepcopy__", _shared, create=True))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self._threads_before = {id(thread) for thread in sfn_parser_utils.TMP_THREADS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback_: TracebackType | None,
    ) -> None:
        stack = self._stack
        if stack is None:
            return
        with stack:
            try:
                still_running = self._stop_leftover_executions()
            finally:
                self._stack = None
                self._clients.clear()
        if exc_type is None and still_running:
            raise AssertionError(f"executions still running after being stopped: {still_running}")

    def _stop_leftover_executions(self) -> list[str]:
        """Stop what is still running, wait for moto's executor threads, and name any that did not end."""
        sfn = self._client("stepfunctions")
        for arn in self._executions:
            if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                sfn.stop_execution(executionArn=arn, error="Harness.Stopped", cause="left running by the test")
        deadline = time.monotonic() + _THREAD_JOIN_TIMEOUT_S
        threads = [thread for thread in sfn_parser_utils.TMP_THREADS if id(thread) not in self._threads_before]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [thread.name for thread in threads if thread.is_alive()]

    def _client(self, service: str) -> Any:
        if self._stack is None:
            raise RuntimeError("use EmulatedStateMachine as a context manager")
        if service not in self._clients:
            self._clients[service] = boto3.client(service)
        return self._clients[service]

    def _role(self) -> str:
        if self._role_arn is None:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["states.amazonaws.com", "lambda.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            role = self._client("iam").create_role(RoleName=self.role_name, AssumeRolePolicyDocument=json.dumps(trust))
            self._role_arn = str(role["Role"]["Arn"])
        return self._role_arn

    # ---- setting up ------------------------------------------------------------------------------

    def register_function(self, name: str, handler: LambdaHandler) -> str:
        """Create Lambda function `name` in moto and route its invocations to `handler(event, context)`;
        returns its ARN (for a DefinitionSubstitutions value)."""
        if name in self._handlers:
            raise ValueError(f"function {name} is already registered")
        role = self._role()
        if self.runtime is not None and name in self.runtime.identities():  # the template's `name`, under its role
            handler, role = self.runtime.as_function(name, handler), self.runtime.role_arn(name)
        created = self._client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="handler.lambda_handler",
            Code={"ZipFile": _placeholder_zip()},
        )
        self._handlers[name] = handler
        return str(created["FunctionArn"])

    def create(
        self,
        definition: str | Path,
        substitutions: Mapping[str, str] | None = None,
        *,
        name: str = "workflow",
        identity: str | None = None,
    ) -> str:
        """Create the state machine from a definition (text, or the path of an ASL file) with its
        placeholders substituted strictly (see substitute); returns its ARN. `identity` names the
        template's state machine it is: with a runtime, its SDK calls are made under that role."""
        text = definition.read_text(encoding="utf-8") if isinstance(definition, Path) else definition
        self.identity = identity
        role = self._role() if self.runtime is None or identity is None else self.runtime.role_arn(identity)
        if identity is not None:
            self._identities[role] = identity
        created = self._client("stepfunctions").create_state_machine(
            name=name, definition=substitute(text, substitutions or {}), roleArn=role
        )
        self.state_machine_arn = str(created["stateMachineArn"])
        return self.state_machine_arn

    # ---- executing -------------------------------------------------------------------------------

    def start(self, execution_input: Mapping[str, Any], name: str | None = None) -> str:
        """Start an execution (it runs in moto's executor thread); returns its ARN."""
        if self.state_machine_arn is None:
            raise RuntimeError("create the state machine first")
        started = self._client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn,
            name=name or f"execution-{uuid.uuid4()}",
            input=json.dumps(execution_input),
        )
        arn = str(started["executionArn"])
        self._executions.append(arn)
        # moto's worker thread sets the execution up after start_execution returns; until its first
        # history event, stop_execution would fail inside moto.
        sfn = self._client("stepfunctions")
        while not sfn.get_execution_history(executionArn=arn, maxResults=1)["events"]:
            time.sleep(_POLL_INTERVAL_S)
        return arn

    def wait(self, execution_arn: str, timeout_s: float = 60) -> ExecutionResult:
        """Wait for an execution to end; on timeout stop it and raise TimeoutError."""
        sfn = self._client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                sfn.stop_execution(executionArn=execution_arn, error="Harness.Timeout", cause="test timeout")
                # Not its history: a loop spinning without sleep makes thousands of events a second,
                # which moto takes seconds to serialise.
                raise TimeoutError(
                    f"{execution_arn} still running after {timeout_s} s, stopped; the harness has seen "
                    f"{len(self.waits)} Wait states and {len(self.retry_intervals)} retries (a loop that never ends?)"
                )
            time.sleep(_POLL_INTERVAL_S)
        result = self._result(execution_arn, described)
        if len(result.history) > HISTORY_EVENT_QUOTA:
            raise AssertionError(
                f"{len(result.history)} history events: AWS fails a Standard execution beyond {HISTORY_EVENT_QUOTA}"
            )
        return result

    def run(
        self, execution_input: Mapping[str, Any], name: str | None = None, timeout_s: float = 60
    ) -> ExecutionResult:
        """Start an execution and wait for it to end."""
        return self.wait(self.start(execution_input, name), timeout_s)

    def _result(self, execution_arn: str, described: Mapping[str, Any]) -> ExecutionResult:
        sfn = self._client("stepfunctions")
        history: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while True:
            page = sfn.get_execution_history(executionArn=execution_arn, **token)
            history += page["events"]
            if not page.get("nextToken"):
                break
            token = {"nextToken": page["nextToken"]}
        output = described.get("output")
        return ExecutionResult(
            execution_arn=execution_arn,
            status=str(described["status"]),
            output=None if output is None else json.loads(output),
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )

    # ---- what replaces moto's behaviour ----------------------------------------------------------

    def _invoke_function(self) -> Callable[..., bytes]:
        harness = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            name = _function_name(function_name)
            handler = harness._handlers.get(name)
            if handler is None:
                raise UnknownFunctionException(function_name)
            if headers.get("X-Amz-Invocation-Type") == "DryRun":
                return b""
            event = json.loads(body) if body else {}
            try:
                result = handler(event, LocalContext(function_name=name))
            except Exception as error:
                harness.invocations.append(Invocation(name, event, error=error))
                response_headers["x-amz-function-error"] = "Unhandled"
                return _error_payload(type(error).__name__, str(error), error)
            harness.invocations.append(Invocation(name, event, result=result))
            try:
                return json.dumps(result).encode()
            except (TypeError, ValueError) as error:
                response_headers["x-amz-function-error"] = "Unhandled"
                return _error_payload("Runtime.MarshalError", f"Unable to marshal response: {error}", error)

        return invoke

    def _sdk_client(self, region: str, service: str, state_credentials: Any = None) -> Any:
        """moto's executor's clients (aws-sdk tasks, Lambda invocations), made under the state machine's
        role when IAM is enforced (moto's own sign with a key no IAM user or role has)."""
        config = Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1})
        # Each execution's calls are its state machine's (a fleet's and the executions it starts differ).
        role = getattr(state_credentials, "role_arn", None)
        identity = self._identities.get(role, self.identity) if isinstance(role, str) else self.identity
        if self.runtime is None or identity is None:
            return boto3.client(service, region_name=region, config=config)  # the test side's identity
        return self.runtime.sdk_client(identity, service, region_name=region, config=config)

    def _wait_function(self) -> Callable[..., None]:
        waits = self.waits

        def wait_interval(_function: WaitFunction, env: Any, wait_seconds: float) -> None:
            waits.append(max(0, wait_seconds))  # a Timestamp in the past waits 0 s

        return wait_interval


def _timestamps_as_aws_writes_them() -> Callable[..., None]:
    """moto leaves the datetimes botocore parsed in an aws-sdk task's result: they then reach the state
    data as objects (and describe_execution fails to serialise an output holding one). AWS writes them
    as ISO 8601 strings in UTC with milliseconds ("2013-08-23T01:02:15.422Z")."""
    original = StateTaskServiceAwsSdk._eval_service_task

    def eval_service_task(task: StateTaskServiceAwsSdk, env: Any, *args: Any, **kwargs: Any) -> None:
        parameters = kwargs["normalised_parameters"] if "normalised_parameters" in kwargs else args[1]
        _as_api_members(task, parameters)
        original(task, env, *args, **kwargs)
        result = _json_timestamps(env.stack[-1])
        # AWS gives an aws-sdk task's result with PascalCase field names, whatever the API's casing.
        env.stack[-1] = {key[:1].upper() + key[1:]: value for key, value in result.items()}

    return eval_service_task


def _as_api_members(task: StateTaskServiceAwsSdk, parameters: dict[str, Any]) -> None:
    """An aws-sdk task's Parameters are PascalCase (ExecutionArn); AWS maps them to the API's members
    (executionArn for Step Functions, whose API is camelCase). moto passes them as written."""
    operation = task.resource.api_action[:1].upper() + task.resource.api_action[1:]
    service = botocore.session.get_session().get_service_model(task._get_boto_service_name())
    members = set(service.operation_model(operation).input_shape.members)
    for key in list(parameters):
        if not key[:1].isupper():  # AWS takes an aws-sdk task's parameters in PascalCase only
            raise ValueError(f"an aws-sdk task parameter is PascalCase: {key!r}")
        camel = key[:1].lower() + key[1:]
        if key not in members and camel in members:
            parameters[camel] = parameters.pop(key)


_SFN_NORMALISE_PARAMETERS = StateTaskServiceSfn._normalise_parameters


def _sfn_request_as_aws_maps_it(
    task: StateTaskServiceSfn, parameters: dict[str, Any], *args: Any, **kwargs: Any
) -> None:
    """A Step Functions task's Parameters (StateMachineArn, Name, Input) are the API's members (stateMachineArn,
    …): AWS maps them; moto's port passes them as written, which botocore refuses (KeyError)."""
    _SFN_NORMALISE_PARAMETERS(task, parameters, *args, **kwargs)
    for key in list(parameters):
        if not key[:1].isupper():  # AWS takes the task's parameters in PascalCase only
            raise ValueError(f"a Step Functions task parameter is PascalCase: {key!r}")
        parameters[key[:1].lower() + key[1:]] = parameters.pop(key)


def _sfn_response_as_aws_writes_it(task: StateTaskServiceSfn, response: Any, *args: Any, **kwargs: Any) -> None:
    """AWS gives a Step Functions task's result in the task's casing (ExecutionArn, StartDate, Output), with
    timestamps as ISO 8601 text; moto leaves the API's (executionArn) and datetime objects."""
    if isinstance(response, dict):
        for key in list(response):
            response[key[:1].upper() + key[1:]] = _json_timestamps(response.pop(key))


def _tolerated_failures_as_in_aws() -> Callable[..., None]:
    """A Distributed Map Run fails with States.ExceedToleratedFailureThreshold when more of its items failed than
    ToleratedFailurePercentage (or ToleratedFailureCount) allows; moto counts the failures and succeeds anyway.
    (AWS may stop a Map Run as soon as the threshold is passed; here every item runs first.)"""
    original = DistributedIterationComponent._map_run

    def map_run(component: DistributedIterationComponent, env: Any, eval_input: Any) -> None:
        original(component, env, eval_input)
        record = eval_input.map_run_record
        failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
        total = record.item_counter.total.get()
        percentage = 100.0 * failed / total if total else 0.0
        # With neither set, no failure is tolerated; with both set, the Map Run fails when either is exceeded.
        count, share = eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
        count_set, share_set = count > 0, share > 0
        over_count = count_set and failed > count
        over_percentage = share_set and percentage > share
        if failed and (over_count or over_percentage or not (count_set or share_set)):
            error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=error,
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(
                        mapRunFailedEventDetails=MapRunFailedEventDetails(
                            error=error.error_name,
                            cause=f"The specified tolerated failure threshold was exceeded: {failed} of {total} "
                            f"items failed ({percentage:.1f} % > {eval_input.tolerated_failure_percentage} %).",
                        )
                    ),  # type: ignore[typeddict-item]
                )
            )

    return map_run


def _uncatchable_as_in_aws() -> Callable[..., None]:
    """Retry and Catch never match States.Runtime or States.DataLimitExceeded in AWS (moto's do)."""
    original = ErrorEqualsDecl._eval_body

    def eval_body(decl: ErrorEqualsDecl, env: Any) -> None:
        if getattr(env.stack[-1], "error_name", None) in UNCATCHABLE_ERRORS:
            env.stack.pop()
            env.stack.append(False)
            return
        original(decl, env)

    return eval_body


def _unless_stopped(end: Callable[..., None]) -> Callable[..., None]:
    """An ending of moto's program (error, time-out) that leaves a stopped program stopped: in AWS, an
    execution whose StopExecution was accepted is ABORTED (moto's ends overwrite the stop)."""

    def end_unless_stopped(env: Environment, *args: Any, **kwargs: Any) -> None:
        with env._state_mutex:  # an RLock, which the ending takes again: the check and the change are one step
            if not isinstance(env._program_state, ProgramStopped):
                end(env, *args, **kwargs)

    return end_unless_stopped


def _json_timestamps(value: Any) -> Any:
    if isinstance(value, datetime):
        utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dict):
        return {key: _json_timestamps(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_timestamps(item) for item in value]
    return value


def _shared(execution: Execution, _memo: dict[int, Any]) -> Execution:
    return execution


def _function_name(identifier: str) -> str:
    """The function name in a name, partial ARN or ARN, with or without a qualifier."""
    parts = identifier.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def _error_payload(error_type: str, message: str, error: BaseException) -> bytes:
    """The body Lambda's Python runtime answers with for an unhandled exception."""
    stack = [line.rstrip("\n") for line in traceback.format_tb(error.__traceback__)]
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": stack}).encode()


def _placeholder_zip() -> bytes:
    """A deployment package moto accepts; its code never runs (invocations are routed to handlers)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    raise NotImplementedError\n")
    return buffer.getvalue()
