"""A base for in-process fakes of AWS services that moto lacks, held to botocore's service model.

A fake registers first on botocore's ``before-send`` event of boto3's default session and answers
there, so botocore still serialises every request, parses every response and error, and runs its
own retry logic (standard mode) on throttling and 5xx errors.

Every request is checked against the operation's input shape in botocore's service model, and
every response (errors included) against its output shape: required members, types, enum values,
lengths, ranges and patterns. A mismatch raises ContractViolation, an AssertionError naming the
service, the operation, the member path and the rule, so a wrong parameter in the code under test
fails the test the way AWS would reject it. botocore's own client-side validation checks neither
enums, nor maximums, nor patterns.

A service's fake subclasses FakeService, names the botocore service and maps operation names to
handlers that take the decoded request and return the response members (datetimes allowed).
Handlers raise ServiceError for what the service itself answers with an error::

    class FakeThing(FakeService):
        service = "thing"

        def __init__(self) -> None:
            super().__init__()
            self.handlers = {"DescribeThing": self._describe_thing}

Install it after ``mock_aws()`` has started (mock_aws replaces boto3's default session) and before
the clients are created (a client copies the session's event handlers when it is created).
Only the JSON 1.0/1.1 protocol (requests named by ``X-Amz-Target``) is decoded so far.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Any, ClassVar, Self
from unittest import mock

import boto3
import botocore.endpoint
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@cache
def service_model(service: str) -> ServiceModel:
    """A service's model in the installed botocore, the one the code under test uses."""
    return botocore.session.get_session().get_service_model(service)


# --------------------------------------------------------------------------------------------------
# Validation against a service model
# --------------------------------------------------------------------------------------------------


class ContractViolation(AssertionError):
    """A request or response that the service's model does not allow."""

    def __init__(self, service: str, operation: str, what: str, problems: list[str]) -> None:
        self.operation = operation
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{operation} {what} breaks the {service} service model:\n{listing}")


def shape_problems(shape: Shape, value: Any) -> list[str]:
    """Every way a wire-form value (timestamps as epoch seconds) breaks a shape, as 'path: rule'."""
    problems: list[str] = []
    _check(shape, value, "", problems)
    return problems


# JSON types of each shape type on the wire (JSON protocols: timestamps are epoch seconds).
_WIRE_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float),
}

# Smithy patterns are Java-style regular expressions, evaluated unanchored. These are the constructs
# of the faked services' models that Python's re lacks; a test checks that every pattern compiles.
_JAVA_REGEX_TO_PYTHON = (
    ("[\\P{M}\\p{M}]", "[\\s\\S]"),  # not-a-mark or a mark: any character
    ("\\p{ASCII}", "[\\x00-\\x7F]"),
)


@cache
def python_regex(pattern: str) -> re.Pattern[str]:
    """A service-model pattern as a Python regex (use search: Smithy patterns are not anchored)."""
    for java, python in _JAVA_REGEX_TO_PYTHON:
        pattern = pattern.replace(java, python)
    return re.compile(pattern)


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    where = path or "<body>"
    if not _has_wire_type(shape, value):
        problems.append(f"{where}: {brief(value)} is not a {shape.type_name} ({shape.name})")
        return
    if isinstance(shape, StructureShape):
        _check_structure(shape, value, path, problems)
    elif isinstance(shape, ListShape):
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            _check(shape.key, key, f"{path}<key {key!r}>", problems)
            _check(shape.value, item, f"{path}[{key!r}]", problems)
    if shape.type_name != "timestamp":
        _check_bounds(shape, value, where, problems)
    if isinstance(value, str):
        _check_string(shape, value, where, problems)


def _has_wire_type(shape: Shape, value: Any) -> bool:
    wire_types = _WIRE_TYPES.get(shape.type_name)
    if wire_types is None:
        raise NotImplementedError(f"cannot validate {shape.type_name} shape {shape.name}")
    # bool is an int in Python, not in JSON.
    return isinstance(value, wire_types) and (bool in wire_types or not isinstance(value, bool))


def _check_structure(shape: StructureShape, value: dict[str, Any], path: str, problems: list[str]) -> None:
    prefix = f"{path}." if path else ""
    for name in shape.required_members:
        if name not in value:
            problems.append(f"{prefix}{name}: required member of {shape.name} is missing")
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is None:
            problems.append(f"{prefix}{name}: not a member of {shape.name}")
        else:
            _check(member, member_value, f"{prefix}{name}", problems)


def _check_bounds(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    measured, what = (len(value), "length") if isinstance(value, str | list | dict) else (value, "value")
    minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
    if minimum is not None and measured < minimum:
        problems.append(f"{where}: {what} {measured} is below the minimum {minimum} of {shape.name}")
    if maximum is not None and measured > maximum:
        problems.append(f"{where}: {what} {measured} is above the maximum {maximum} of {shape.name}")


def _check_string(shape: Shape, value: str, where: str, problems: list[str]) -> None:
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        problems.append(f"{where}: {value!r} is not one of {shape.name} {enum}")
    pattern = shape.metadata.get("pattern")
    if pattern and not python_regex(pattern).search(value):
        problems.append(f"{where}: {brief(value)} does not match the pattern {pattern!r} of {shape.name}")


def brief(value: Any) -> str:
    """A value's repr, cut to fit in a message."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def present(members: Mapping[str, Any]) -> dict[str, Any]:
    """The members that are set: AWS omits absent members rather than sending null."""
    return {name: value for name, value in members.items() if value is not None}


def from_wire_time(value: float | None) -> datetime | None:
    """A timestamp member of a request (epoch seconds) as an aware datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _json_default(value: Any) -> float:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.timestamp()
    raise TypeError(f"{brief(value)} cannot go on the wire")


# --------------------------------------------------------------------------------------------------
# The fake service
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request a fake received, decoded (timestamps as epoch seconds, as on the wire)."""

    operation: str
    params: dict[str, Any]


class ServiceError(Exception):
    """An error the service itself would answer with (not a contract violation)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Fault:
    code: str
    message: str
    status: int
    after_applying: bool


class _RawBody(io.BytesIO):
    """The raw body botocore's AWSResponse reads with stream()."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class FakeService:
    """A stateful in-memory AWS service answering boto3 clients through botocore's events."""

    service: ClassVar[str]  # botocore's name of the service, e.g. "lookoutequipment"

    def __init__(self, *, default_page_size: int = 50) -> None:
        self.service_model = service_model(self.service)
        if self.service_model.protocol != "json":
            raise NotImplementedError(f"FakeService decodes the json protocol, not {self.service_model.protocol}")
        # Page size when a List request names none; lower it to force several pages.
        self.default_page_size = default_page_size
        # The most items a page holds whatever the request asks (services may return fewer): set it
        # to force several pages on a caller that asks for large pages.
        self.page_limit: int | None = None
        self.handlers: dict[str, Handler] = {}
        self.calls: list[Call] = []
        self.violations: list[ContractViolation] = []
        # Exceptions raised by a test's callbacks inside a request, where a caller may swallow them.
        self.callback_errors: list[Exception] = []
        self._faults: dict[str, deque[_Fault]] = {}
        # Reentrant: a test's callback runs inside a request and may itself call the service.
        self.lock = threading.RLock()
        self._events: Any = None  # the emitter installed on, while installed
        self._event_name = f"before-send.{self.service_model.service_id.hyphenize()}"
        self._unique_id = f"fake-{self.service}-{id(self)}"

    # ---- faults ------------------------------------------------------------------------------------

    def fail_next(
        self,
        operation: str,
        code: str = "ThrottlingException",
        message: str | None = None,
        *,
        times: int = 1,
        status: int | None = None,
        after_applying: bool = False,
    ) -> None:
        """Answer the next `times` calls of an operation with an error (HTTP 500 for InternalServerException,
        else 400 unless `status` says otherwise). The error must be one the operation can return.

        after_applying=True carries the request out first and loses the answer (a timeout or 5xx after
        the service acted): what a retried create must survive thanks to its client token.
        """
        if code not in self.errors_of(operation):
            raise ValueError(f"{operation} cannot return {code}; its errors are {self.errors_of(operation)}")
        fault = _Fault(
            code=code,
            message=message or f"{code} injected by the fake {self.service}",
            status=status or (500 if code == "InternalServerException" else 400),
            after_applying=after_applying,
        )
        self._faults.setdefault(operation, deque()).extend([fault] * times)

    def errors_of(self, operation: str) -> list[str]:
        return [shape.name for shape in self.service_model.operation_model(operation).error_shapes]

    # ---- what happened -----------------------------------------------------------------------------

    def calls_to(self, operation: str) -> list[Call]:
        return [call for call in self.calls if call.operation == operation]

    def pop_violations(self) -> list[ContractViolation]:
        """The violations seen so far, forgotten: a test that provokes one on purpose pops it."""
        popped, self.violations = self.violations, []
        return popped

    # ---- paging ------------------------------------------------------------------------------------

    def page(
        self,
        operation: str,
        items: list[dict[str, Any]],
        params: dict[str, Any],
        *,
        token: str = "NextToken",
        size: str = "MaxResults",
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of `items` and the token of the next page (None on the last), as the request's
        `token` and `size` members ask."""
        start = self._token_offset(operation, params.get(token))
        asked = params.get(size, self.default_page_size)
        end = start + (min(asked, self.page_limit) if self.page_limit else asked)
        return items[start:end], (_token(operation, end) if end < len(items) else None)

    def _token_offset(self, operation: str, token: str | None) -> int:
        if token is None:
            return 0
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
            if decoded["operation"] == operation and isinstance(decoded["offset"], int):
                return int(decoded["offset"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            pass
        raise ContractViolation(
            self.service,
            operation,
            "request",
            [f"NextToken: {brief(token)} was not returned by an earlier {operation} response"],
        )

    # ---- hooking into botocore ---------------------------------------------------------------------

    def install(self, session: boto3.session.Session | None = None) -> Self:
        """Answer the service's requests of clients created from now on from `session`
        (boto3's default session unless given)."""
        if self._events is not None:
            raise RuntimeError(f"the fake {self.service} is already installed")
        events = (session or boto3._get_default_session()).events
        # First, and more specific than moto's "before-send", so this answer is the one botocore takes.
        events.register_first(self._event_name, self._answer, unique_id=self._unique_id)
        self._events = events
        return self

    def uninstall(self) -> None:
        """Stop answering, also for clients created while installed."""
        if self._events is not None:
            self._events.unregister(self._event_name, unique_id=self._unique_id)
            self._events = None

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.uninstall()
        if exc_type is None and self.violations:
            # Raised to the caller but swallowed on the way (e.g. by a broad except, or by a Step
            # Functions execution): the test must still fail.
            raise AssertionError(
                f"the fake {self.service} saw contract violations that were not popped:\n"
                + "\n".join(str(violation) for violation in self.violations)
            )
        if exc_type is None and self.callback_errors:
            raise AssertionError(
                f"a callback of the fake {self.service} failed:\n"
                + "\n".join(f"  - {error!r}" for error in self.callback_errors)
            ) from self.callback_errors[0]

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if self._events is None:
            return None  # a client created while installed, used after uninstall
        target = request.headers["X-Amz-Target"]  # bytes once botocore has prepared the request
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        params = json.loads(request.body or b"{}")
        with self.lock:
            self.calls.append(Call(operation, params))
            try:
                status, body = self._respond(operation, params)
            except ContractViolation as violation:
                self.violations.append(violation)
                raise
        content = json.dumps(body).encode()
        headers = {
            "Content-Type": f"application/x-amz-json-{self.service_model.metadata.get('jsonVersion', '1.0')}",
            "Content-Length": str(len(content)),
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        return AWSResponse(request.url, status, headers, _RawBody(content))

    def _respond(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        operation_model = self.service_model.operation_model(operation)
        self._enforce(operation, "request", operation_model.input_shape, params)
        faults = self._faults.get(operation)
        fault = faults.popleft() if faults else None
        if fault is not None and not fault.after_applying:
            return fault.status, self._error_body(operation, fault.code, fault.message)
        handler = self.handlers.get(operation)
        if handler is None:
            raise NotImplementedError(f"the fake {self.service} does not implement {operation}")
        try:
            output = handler(params)
        except ServiceError as error:
            return 400, self._error_body(operation, error.code, error.message)
        wire = json.loads(json.dumps(output, default=_json_default))
        self._enforce(operation, "response", operation_model.output_shape, wire)
        if fault is not None:
            return fault.status, self._error_body(operation, fault.code, fault.message)
        return 200, wire

    def _error_body(self, operation: str, code: str, message: str) -> dict[str, Any]:
        if code not in self.errors_of(operation):
            raise ContractViolation(self.service, operation, "error response", [f"{code} is not one of its errors"])
        body = {"Message": message}
        self._enforce(operation, f"{code} response", self.service_model.shape_for(code), body)
        return {"__type": f"com.amazonaws.{self.service}#{code}", **body}

    def _enforce(self, operation: str, what: str, shape: Shape | None, wire: dict[str, Any]) -> None:
        if shape is None:  # e.g. an operation without output members
            problems = [f"{name}: {operation} has no {what} members" for name in wire]
        else:
            problems = shape_problems(shape, wire)
        if problems:
            raise ContractViolation(self.service, operation, what, problems)


def _token(operation: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"operation": operation, "offset": offset}).encode()).decode()


# --------------------------------------------------------------------------------------------------
# Retries without waiting
# --------------------------------------------------------------------------------------------------


class _SleepRecorder:
    """Stands in for the time module inside botocore.endpoint: records retry delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextmanager
def skip_retry_sleeps() -> Iterator[list[float]]:
    """Let botocore retry without waiting (in every thread); yields the backoff delays it asked for.

    botocore's endpoint sleeps between attempts with time.sleep; only that module's view of time
    is replaced, so nothing else stops sleeping.
    """
    recorder = _SleepRecorder()
    with mock.patch.object(botocore.endpoint, "time", recorder):
        yield recorder.delays
