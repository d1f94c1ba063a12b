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

Two protocols are decoded, the one botocore resolves for the service:

- ``json`` (JSON 1.0/1.1): the operation is named by ``X-Amz-Target``, the body holds the members.
- ``rest-json``: the operation is found by HTTP method and the operation's ``http.requestUri``
  template (labels ``{name}``, greedy labels ``{name+}``, literal query keys after ``?``); the
  members come from URI labels, the query string, headers and the JSON body as each member's
  ``serialization`` (``location``, ``name``) says, converted to their wire types (integers,
  booleans, lists; timestamps as epoch seconds) before validation. Answers carry the operation's
  ``http.responseCode`` (200 unless given), output members with a location go into headers.

Errors carry the error shape's HTTP status (its ``error.httpStatusCode``, else 500 for a fault,
else 400) and its own message member (``Message`` or ``message``). botocore reads the code from
``__type`` in the json protocol and from the ``x-amzn-ErrorType`` header in rest-json, so
``ClientError.response["Error"]["Code"]`` is the code and its retry handler retries throttling.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from functools import cache
from types import TracebackType
from typing import Any, ClassVar, Self
from unittest import mock
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.endpoint
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.utils import parse_timestamp

Handler = Callable[[dict[str, Any]], dict[str, Any]]


DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account


@cache
def service_model(service: str) -> ServiceModel:
    """A service's model in the installed botocore, the one the code under test uses."""
    return botocore.session.get_session().get_service_model(service)


@cache
def _raw_shapes(service: str) -> dict[str, Any]:
    """The model's shapes as stored: botocore's Shape drops traits such as ``fault``."""
    loader = botocore.session.get_session().get_component("data_loader")
    shapes: dict[str, Any] = loader.load_service_model(service, "service-2")["shapes"]
    return shapes


def protocol_of(model: ServiceModel) -> str:
    """The protocol botocore's clients speak to the service (the first it supports of the model's)."""
    return str(model.resolved_protocol)


PROTOCOLS = ("json", "rest-json")


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
    # Broader than Java's, never narrower, so that no value AWS accepts is refused: letters and
    # numbers as word characters, space separators as any whitespace.
    ("\\p{L}", "\\w"),
    ("\\p{N}", "\\w"),
    ("\\p{Zs}", "\\s"),
)
_INLINE_FLAGS = re.compile(r"\(\?([imsx]+)\)")


@cache
def python_regex(pattern: str) -> re.Pattern[str]:
    """A service-model pattern as a Python regex (use search: Smithy patterns are not anchored)."""
    for java, python in _JAVA_REGEX_TO_PYTHON:
        pattern = pattern.replace(java, python)
    return re.compile(_scoped_flags(pattern))


def _scoped_flags(pattern: str) -> str:
    """Java's inline flags inside a pattern, e.g. ``(?!(?i)AWS_)``, as Python's scoped ones,
    ``(?!(?i:AWS_))``: they hold to the end of the group that holds them."""
    found = _INLINE_FLAGS.search(pattern, 1)
    while found is not None:
        end = _group_end(pattern, found.end())
        pattern = f"{pattern[: found.start()]}(?{found.group(1)}:{pattern[found.end() : end]}){pattern[end:]}"
        found = _INLINE_FLAGS.search(pattern, found.start() + 1)
    return pattern


def _group_end(pattern: str, start: int) -> int:
    """Where the group around `start` closes (the pattern's end at the top level)."""
    depth, index, in_class = 0, start, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    return len(pattern)


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
    """An error the service itself would answer with (not a contract violation).

    `members` are the error shape's other members (e.g. SiteWise's ConflictingOperationException
    requires resourceId and resourceArn); `status` overrides the error shape's HTTP status.
    """

    def __init__(
        self, code: str, message: str, *, members: Mapping[str, Any] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.members = dict(members or {})
        self.status = status


@dataclass(frozen=True)
class _Fault:
    code: str
    message: str
    status: int
    after_applying: bool
    members: dict[str, Any] = field(default_factory=dict)


# An answer on the wire: HTTP status, headers beyond the common ones, body.
_Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class _Route:
    """Where a rest-json operation's requests go: method, path template as a regex, literal query keys."""

    operation: str
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]  # the label of each group of `path`, in order
    query: tuple[tuple[str, str | None], ...]  # literal query of the requestUri: key, value (None: any)
    literal_length: int  # characters of the template outside labels: longer is more specific


class _RawBody(io.BytesIO):
    """The raw body botocore's AWSResponse reads with stream()."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class FakeService:
    """A stateful in-memory AWS service answering boto3 clients through botocore's events."""

    service: ClassVar[str]  # botocore's name of the service, e.g. "lookoutequipment"

    def __init__(
        self, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID, default_page_size: int = 50
    ) -> None:
        # Where the fake's resources live (their ARNs): moto's defaults unless given.
        self.region = region
        self.account_id = account_id
        self.service_model = service_model(self.service)
        self.protocol = protocol_of(self.service_model)
        if self.protocol not in PROTOCOLS:
            raise NotImplementedError(f"FakeService decodes the protocols {PROTOCOLS}, not {self.protocol}")
        self._routes = _routes(self.service_model) if self.protocol == "rest-json" else []
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
        members: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next `times` calls of an operation with an error, with the HTTP status of
        `error_status` unless `status` says otherwise. The error must be one the operation can
        return; `members` are the error shape's other members, if it requires some.

        after_applying=True carries the request out first and loses the answer (a timeout or 5xx after
        the service acted): what a retried create must survive thanks to its client token.
        """
        if code not in self.errors_of(operation):
            raise ValueError(f"{operation} cannot return {code}; its errors are {self.errors_of(operation)}")
        fault = _Fault(
            code=code,
            message=message or f"{code} injected by the fake {self.service}",
            status=status or self.error_status(code),
            after_applying=after_applying,
            members=dict(members or {}),
        )
        self._faults.setdefault(operation, deque()).extend([fault] * times)

    def errors_of(self, operation: str) -> list[str]:
        return [shape.name for shape in self.service_model.operation_model(operation).error_shapes]

    def error_status(self, code: str) -> int:
        """The HTTP status of an error: the error shape's ``error.httpStatusCode`` when the model has
        one (e.g. 429 for SiteWise's ThrottlingException), else 500 for a fault (a server error such
        as L4E's InternalServerException), else 400."""
        status = self.service_model.shape_for(code).metadata.get("error", {}).get("httpStatusCode")
        if status is not None:
            return int(status)
        return 500 if _raw_shapes(self.service).get(code, {}).get("fault") else 400

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
        always_token: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of `items` and the token of the next page (None on the last), as the request's
        `token` and `size` members ask.

        always_token=True is for an output whose model requires the token: the last page then has a
        token too, which leads to an empty page carrying the same token again.
        """
        start = self._token_offset(operation, params.get(token), token)
        asked = params.get(size, self.default_page_size)
        end = min(start + (min(asked, self.page_limit) if self.page_limit else asked), max(len(items), start))
        if end < len(items) or always_token:
            return items[start:end], _token(operation, end)
        return items[start:end], None

    def _token_offset(self, operation: str, token: str | None, member: str) -> int:
        if token is None:
            return 0
        try:
            decoded = json.loads(base64.b64decode(token.encode(), validate=True))
            if decoded["operation"] == operation and isinstance(decoded["offset"], int):
                return int(decoded["offset"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            pass
        raise ContractViolation(
            self.service,
            operation,
            "request",
            [f"{member}: {brief(token)} was not returned by an earlier {operation} response"],
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
        if self.protocol == "json":
            operation, params = self._decode_json(request)
        else:
            operation, params = self._decode_rest_json(request)
        with self.lock:
            self.calls.append(Call(operation, params))
            try:
                status, extra_headers, content = self._respond(operation, params)
            except ContractViolation as violation:
                self.violations.append(violation)
                raise
        content_type = (
            f"application/x-amz-json-{self.service_model.metadata.get('jsonVersion', '1.0')}"
            if self.protocol == "json"
            else "application/json"
        )
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(content)),
            "x-amzn-RequestId": str(uuid.uuid4()),
            **extra_headers,
        }
        return AWSResponse(request.url, status, headers, _RawBody(content))

    # ---- decoding requests -------------------------------------------------------------------------

    def _decode_json(self, request: AWSPreparedRequest) -> tuple[str, dict[str, Any]]:
        target = request.headers["X-Amz-Target"]  # bytes once botocore has prepared the request
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        return operation, json.loads(request.body or b"{}")

    def _decode_rest_json(self, request: AWSPreparedRequest) -> tuple[str, dict[str, Any]]:
        url = urlsplit(request.url)
        query = parse_qs(url.query, keep_blank_values=True)
        route, label_values = self._route(str(request.method), url.path, query)
        shape = self.service_model.operation_model(route.operation).input_shape
        params: dict[str, Any] = {}
        if shape is None:
            return route.operation, params
        bound_query = {key for key, _ in route.query}
        query_maps: list[tuple[str, Shape]] = []
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "uri" and wire_name in label_values:
                params[name] = _from_text(member, label_values[wire_name])
            elif location == "querystring" and isinstance(member, MapShape):
                query_maps.append((name, member))
            elif location == "querystring" and wire_name in query:
                bound_query.add(wire_name)
                values = query[wire_name]
                if isinstance(member, ListShape):
                    params[name] = [_from_text(member.member, value) for value in values]
                else:
                    params[name] = _from_text(member, values[-1])
            elif location == "header" and (header := _header(request, wire_name)) is not None:
                params[name] = _from_header(member, header)
            elif location == "headers" and isinstance(member, MapShape):
                prefixed = _prefixed_headers(request, wire_name)
                if prefixed:
                    params[name] = prefixed
        for name, member in query_maps:  # the query keys no other member took
            assert isinstance(member, MapShape)
            rest = {key: values for key, values in query.items() if key not in bound_query}
            if rest:
                params[name] = {
                    key: (
                        [_from_text(member.value.member, value) for value in values]
                        if isinstance(member.value, ListShape)
                        else _from_text(member.value, values[-1])
                    )
                    for key, values in rest.items()
                }
        params.update(self._decode_rest_body(route.operation, shape, request.body))
        return route.operation, params

    def _decode_rest_body(self, operation: str, shape: StructureShape, body: Any) -> dict[str, Any]:
        raw = body.encode() if isinstance(body, str) else body
        if raw is not None and not isinstance(raw, bytes):
            raise NotImplementedError(f"the fake {self.service} cannot read the streamed body of {operation}")
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]
            if not raw:
                return {}
            if isinstance(member, StructureShape):
                return {payload: _from_json_names(member, json.loads(raw))}
            if member.type_name == "string":
                return {payload: raw.decode()}
            raise NotImplementedError(f"the fake {self.service} cannot decode the {member.type_name} payload")
        if not raw:
            return {}
        decoded = _from_json_names(shape, json.loads(raw))
        return decoded if isinstance(decoded, dict) else {"<body>": decoded}

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[_Route, dict[str, str]]:
        """The operation a rest-json request is for: its method and template match, the most specific
        template winning (more literal query keys, then more literal characters)."""
        matches: list[tuple[_Route, dict[str, str]]] = []
        for route in self._routes:
            if route.method != method or not all(
                key in query and (value is None or value in query[key]) for key, value in route.query
            ):
                continue
            found = route.path.fullmatch(path)
            if found is not None:
                matches.append(
                    (route, {label: unquote(value) for label, value in zip(route.labels, found.groups(), strict=True)})
                )
        if not matches:
            raise NotImplementedError(f"the fake {self.service} knows no operation for {method} {path}")

        def specificity(match: tuple[_Route, dict[str, str]]) -> tuple[int, int, bool]:
            route = match[0]
            return len(route.query), route.literal_length, route.operation in self.handlers

        matches.sort(key=specificity, reverse=True)
        if len(matches) > 1 and specificity(matches[0]) == specificity(matches[1]):
            names = [route.operation for route, _ in matches]
            raise NotImplementedError(f"the fake {self.service} cannot tell {method} {path} apart among {names}")
        return matches[0]

    # ---- answering ---------------------------------------------------------------------------------

    def _respond(self, operation: str, params: dict[str, Any]) -> _Answer:
        operation_model = self.service_model.operation_model(operation)
        self._enforce(operation, "request", operation_model.input_shape, params)
        faults = self._faults.get(operation)
        fault = faults.popleft() if faults else None
        if fault is not None and not fault.after_applying:
            return self._error(operation, fault.code, fault.message, fault.status, fault.members)
        handler = self.handlers.get(operation)
        if handler is None:
            raise NotImplementedError(f"the fake {self.service} does not implement {operation}")
        try:
            output = handler(params)
        except ServiceError as error:
            return self._error(operation, error.code, error.message, error.status, error.members)
        wire = json.loads(json.dumps(output, default=_json_default))
        self._enforce(operation, "response", operation_model.output_shape, wire)
        if fault is not None:
            return self._error(operation, fault.code, fault.message, fault.status, fault.members)
        if self.protocol == "json":
            return 200, {}, json.dumps(wire).encode()
        return _rest_json_answer(operation_model, wire)

    def _error(
        self, operation: str, code: str, message: str, status: int | None, members: Mapping[str, Any]
    ) -> _Answer:
        if code not in self.errors_of(operation):
            raise ContractViolation(self.service, operation, "error response", [f"{code} is not one of its errors"])
        shape = self.service_model.shape_for(code)
        # The shape's own message member (L4E: Message, SiteWise: message); botocore reads either.
        message_member = next((name for name in shape.members if name.lower() == "message"), None)
        body = {**({message_member: message} if message_member else {}), **members}
        self._enforce(operation, f"{code} response", shape, body)
        if message_member is None:
            body = {"message": message, **body}
        status = status or self.error_status(code)
        if self.protocol == "json":
            return status, {}, json.dumps({"__type": f"com.amazonaws.{self.service}#{code}", **body}).encode()
        assert isinstance(shape, StructureShape)
        return status, {"x-amzn-ErrorType": code}, json.dumps(_to_json_names(shape, body)).encode()

    def _enforce(self, operation: str, what: str, shape: Shape | None, wire: dict[str, Any]) -> None:
        if shape is None:  # e.g. an operation without output members
            problems = [f"{name}: {operation} has no {what} members" for name in wire]
        else:
            problems = shape_problems(shape, wire)
        if problems:
            raise ContractViolation(self.service, operation, what, problems)


# --------------------------------------------------------------------------------------------------
# rest-json on the wire
# --------------------------------------------------------------------------------------------------


def _routes(model: ServiceModel) -> list[_Route]:
    routes = []
    for operation in model.operation_names:
        http = model.operation_model(operation).http
        path_template, _, query_template = http["requestUri"].partition("?")
        pattern, labels, literal_length = "", [], 0
        for part in re.split(r"(\{[^}]+\})", path_template):
            if part.startswith("{") and part.endswith("}"):
                label = part[1:-1]
                greedy = label.endswith("+")
                labels.append(label.rstrip("+"))
                pattern += "(.+)" if greedy else "([^/]+)"
            else:
                pattern += re.escape(part)
                literal_length += len(part)
        query: list[tuple[str, str | None]] = []
        for item in filter(None, query_template.split("&")):
            key, equals, value = item.partition("=")
            query.append((key, value if equals else None))
        routes.append(
            _Route(operation, http["method"], re.compile(pattern), tuple(labels), tuple(query), literal_length)
        )
    return routes


def _header(request: AWSPreparedRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _prefixed_headers(request: AWSPreparedRequest, prefix: str) -> dict[str, str]:
    found = {}
    for name, value in request.headers.items():
        if name.lower().startswith(prefix.lower()):
            found[name[len(prefix) :]] = value.decode() if isinstance(value, bytes) else value
    return found


def _from_text(shape: Shape, text: str) -> Any:
    """A URI label, query or header value in its wire type; left as text when it does not convert,
    so that validation names it."""
    try:
        if shape.type_name in ("integer", "long"):
            return int(text)
        if shape.type_name in ("float", "double"):
            return float(text)
        if shape.type_name == "timestamp":
            return parse_timestamp(text).timestamp()
    except (TypeError, ValueError):
        return text
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def _from_header(shape: Shape, text: str) -> Any:
    if isinstance(shape, ListShape):
        return [_from_text(shape.member, item.strip().strip('"')) for item in text.split(",")]
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64decode(text).decode()
    return _from_text(shape, text)


def _from_json_names(shape: Shape, value: Any) -> Any:
    """A JSON body value with member names for the wire names of the model (``serialization.name``),
    and timestamps sent as text in epoch seconds."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        by_wire_name = {member.serialization.get("name", name): name for name, member in shape.members.items()}
        renamed = {}
        for key, item in value.items():
            name = by_wire_name.get(key, key)
            member = shape.members.get(name)
            renamed[name] = item if member is None else _from_json_names(member, item)
        return renamed
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_from_json_names(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _from_json_names(shape.value, item) for key, item in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, str):
        return _from_text(shape, value)
    return value


def _to_json_names(shape: Shape, value: Any) -> Any:
    """A wire value with the model's JSON names (``serialization.name``) for member names."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            shape.members[name].serialization.get("name", name) if name in shape.members else name: (
                _to_json_names(shape.members[name], item) if name in shape.members else item
            )
            for name, item in value.items()
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_to_json_names(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _to_json_names(shape.value, item) for key, item in value.items()}
    return value


def _rest_json_answer(operation_model: OperationModel, wire: dict[str, Any]) -> _Answer:
    """A validated output as rest-json puts it on the wire: members with a location in headers or
    the status, the others (or the payload member) in the JSON body."""
    status = int(operation_model.http.get("responseCode", 200))
    shape = operation_model.output_shape
    if shape is None:
        return status, {}, b"{}"
    headers: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, value in wire.items():
        member = shape.members[name]
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "header":
            headers[wire_name] = _header_text(member, value)
        elif location == "headers":
            headers.update({f"{wire_name}{key}": str(item) for key, item in value.items()})
        elif location == "statusCode":
            status = int(value)
        else:
            body[name] = value
    payload = shape.serialization.get("payload")
    if payload is None:
        return status, headers, json.dumps(_to_json_names(shape, body)).encode()
    member = shape.members[payload]
    if payload not in body:
        return status, headers, b""
    if isinstance(member, StructureShape):
        return status, headers, json.dumps(_to_json_names(member, body[payload])).encode()
    if member.type_name == "string":
        return status, headers, str(body[payload]).encode()
    raise NotImplementedError(f"cannot answer a {member.type_name} payload")


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return formatdate(float(value), usegmt=True)  # rfc822, botocore's default for headers
    if isinstance(shape, ListShape):
        return ",".join(_header_text(shape.member, item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(str(value).encode()).decode()
    return str(value)


def _token(operation: str, offset: int) -> str:
    # The standard alphabet: SiteWise's NextToken pattern is [A-Za-z0-9+/=]+.
    return base64.b64encode(json.dumps({"operation": operation, "offset": offset}).encode()).decode()


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
