"""Fault injection: every path (S3 trigger, training workflow, status poller) under AWS failures, and its end state.

Each test injects one fault into an otherwise healthy emulated stack (moto, the fake L4E) and asserts what a
person would see afterwards: the alert delivered exactly once after recovery, or the failure parked where a
person sees it (the dead-letter queue, a named failed execution, a PollErrors count) with an alarm on it, and
nothing silently dropped.

How the faults are injected: AWS faults reach the code under test the way botocore delivers them, through its
event system, with the SDK's real retries; only a killed process is modelled by patching.

- AWS error responses: on the application's own clients (``aws.clients.client``: under IAM enforcement,
  the clients each function's code gets under its role, see tests/support/iam.py), the ``before-send``
  event that moto answers from is wrapped so that a request with a fault gets the error response the service
  sends (DynamoDB's JSON ``ProvisionedThroughputExceededException``, SNS's XML ``InternalError``, a PutEvents
  answer with ``FailedEntryCount``) and never reaches moto: nothing is half-applied. botocore parses the
  answer and retries it exactly as it would the real one (standard mode, 8 retries: ``SDK_ATTEMPTS`` failed
  requests exhaust one call). The tests' own clients, which read the end state, are not touched.
- S3 failing mid-stream: a handler on ``after-call.s3.GetObject`` gives the response a body whose connection
  breaks after a third of the object, the way urllib3 reports it (``ProtocolError``, ``ReadTimeoutError``) or by
  ending early; botocore's ``StreamingBody`` turns that into ``ResponseStreamingError``, ``ReadTimeoutError`` or
  ``IncompleteReadError`` as in production.
- L4E throttling and 5xx: ``FakeLookout.fail_next`` (see tests/support/botocore_fake.py), retried by botocore as well.
  botocore's retry quota (500 units a client, 14 spent per 5xx retry, 5 per throttling retry, given back on
  success) can end a warm client's retries early under a long outage: the tests allow for it where it bites.
- A Lambda timing out (or running out of memory): the runtime kills the process, so none of our ``except`` or
  ``finally`` clauses runs. ``killed_when_calling`` makes one function raise ``LambdaKilled`` (a BaseException,
  so no ``except Exception`` of ours stops it) and makes ``ledger.release``, the only clean-up on that path, do
  nothing while the block lasts. ``LedgerClock`` moves the ledger's clock forward to model Lambda's retry delays
  and the claim lease (``CLAIM_SECONDS``) running out.
- A conditional write losing a race: a second invocation runs while the first holds the claim.

What AWS itself does with a failed invocation (Lambda's two asynchronous retries, the on-failure destination,
CloudWatch alarms) cannot run here: the tests show that the handler raises, replay Lambda's retries by invoking
it again, and read from template.yaml where the event then goes and which alarm tells the operations topic.
No test sleeps: ``retry_sleeps`` (via the ``lookout`` fixture) skips botocore's backoff, and the Step Functions
harness records Wait and Retry intervals instead of waiting.

Faults covered elsewhere, not repeated here: SNS failing on the S3 trigger
(test_diagnostics_landed.py::test_a_failed_publish_releases_the_claim_and_the_retry_alerts_once), SNS failing on
the poller (test_status_poller.py::test_sns_failing_once_then_recovering_gives_exactly_one_alert), two poller
runs racing (test_status_poller.py::test_two_overlapping_runs_announce_once), L4E throttling that recovers within
the retries (test_diagnostics_landed.py, test_training_workflow.py).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.response import StreamingBody
from moto.core.models import botocore_stubber
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as URLLib3ReadTimeoutError

from local.generator import GeneratorSpec, write_diagnostics_file
from lookout_diagnostics.aws import clients, eventbridge, ledger, model_state, sns
from lookout_diagnostics.domain import alert_keys
from lookout_diagnostics.domain.outcomes import Outcome, outcome_key
from lookout_diagnostics.errors import AlertInProgressError
from lookout_diagnostics.settings import get_settings
from lookout_diagnostics.usecases import alert_diagnostics as diagnostics_service
from tests.support.fake_lookout import FakeLookout, FakeModel, FakeModelVersion, writes_diagnostics
from tests.support.iam import LambdaRuntime, current_runtime
from tests.support.samples import emitted_metrics, event
from tests.support.stack import EXAMPLE_BUCKET, EmulatedStack, announcement
from tests.support.state_machine import EmulatedStateMachine, ExecutionResult, states_entered
from tests.support.template import ROOT, load_template
from tests.support.workflow import TRAINING_DEFINITION, create_training_workflow

RESOURCES: dict[str, Any] = load_template()["Resources"]
ASL_STATES: dict[str, Any] = json.loads(TRAINING_DEFINITION.read_text())["States"]
# botocore's attempts per call (the first and its retries): injecting this many failures exhausts one call.
SDK_ATTEMPTS = 1 + int(clients.RETRIES.retries["max_attempts"])
# Lambda retries a failed asynchronous invocation of the S3 trigger this many times before the on-failure destination.
LAMBDA_RETRIES = int(RESOURCES["DiagnosticsFunction"]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"])
# Lambda's delays before its first and second retry of an asynchronous invocation.
LAMBDA_RETRY_DELAYS = (60, 120)

KEY = "diagnostics/pump station=7/version=3/model_diagnostics_results.json.gz"  # the one events/ announce
SUMMARY_KEY = KEY.replace(".json.gz", ".summary.json")
SPEC = GeneratorSpec(rows=3000, sensors=8, components=2, episodes=2, episode_points=(10, 30), seed=7)
POLLED_MODEL = "pump-7"
TRAINING_INPUT = json.loads((ROOT / "events" / "training-input.json").read_text())
TRAINED_MODEL = TRAINING_INPUT["ModelName"]


# ==================================================================================================
# Injecting faults
# ==================================================================================================


class _RawBody(io.BytesIO):
    """A raw HTTP body as botocore reads it."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def _reply(request: AWSPreparedRequest, status: int, content_type: str, body: bytes) -> AWSResponse:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "x-amzn-RequestId": "fault-injected"}
    return AWSResponse(request.url, status, headers, _RawBody(body))


Reply = Callable[[AWSPreparedRequest], AWSResponse]


def dynamodb_throttled(request: AWSPreparedRequest) -> AWSResponse:
    """What DynamoDB answers when a table's throughput is exceeded (botocore retries it as throttling)."""
    body = {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
    return _reply(request, 400, "application/x-amz-json-1.0", json.dumps(body).encode())


def sns_internal_error(request: AWSPreparedRequest) -> AWSResponse:
    """SNS's answer when it fails internally (HTTP 500, retried by botocore)."""
    body = (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
        "<Code>InternalError</Code><Message>Internal error (injected)</Message></Error>"
        "<RequestId>fault-injected</RequestId></ErrorResponse>"
    )
    return _reply(request, 500, "text/xml", body.encode())


def put_events_entry_failed(request: AWSPreparedRequest) -> AWSResponse:
    """PutEvents reports a failed entry in a successful answer (HTTP 200): botocore does not retry it."""
    body = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}]}
    return _reply(request, 200, "application/x-amz-json-1.1", json.dumps(body).encode())


class _BreaksMidway:
    """A raw HTTP body that delivers `good_bytes`, then fails as urllib3 does (or just ends, if `error` is None)."""

    def __init__(self, raw: Any, good_bytes: int, error: Exception | None) -> None:
        self._raw, self._left, self._error = raw, good_bytes, error

    def read(self, amt: int | None = None) -> bytes:
        if self._left <= 0:
            if self._error is None:
                return b""  # the connection closed early: botocore's length check notices
            raise self._error
        data: bytes = self._raw.read(self._left if amt is None else min(amt, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._raw.close()


STREAM_BREAKS: dict[str, tuple[Callable[[], Exception | None], type[Exception]]] = {
    # how the connection breaks: (urllib3's error, or None for an early end; what botocore raises)
    "connection reset": (
        lambda: ProtocolError("Connection broken: ConnectionResetError(104, 'Connection reset by peer')"),
        ResponseStreamingError,
    ),
    "read timeout": (lambda: URLLib3ReadTimeoutError(None, "s3", "Read timed out."), ReadTimeoutError),  # type: ignore[arg-type]
    "connection closed early": (lambda: None, IncompleteReadError),
}


@dataclass
class _Rule:
    event_name: str
    reply: Reply
    times: int
    table: str | None
    item: str | None = None
    answered: int = 0

    def applies(self, event_name: str, request: AWSPreparedRequest) -> bool:
        if event_name != self.event_name or self.answered >= self.times:
            return False
        body = json.loads(request.body or b"{}") if self.table or self.item else {}
        named = body.get("Key") or body.get("Item") or {}
        return (self.table is None or body.get("TableName") == self.table) and (
            self.item is None or named.get("pk", {}).get("S") == self.item
        )


class Faults:
    """Faults injected into the application's own boto3 clients through botocore's event system.

    botocore calls every ``before-send`` handler and takes the first answer, so a handler of our own would
    not keep moto from carrying the request out behind the injected error. On the clients it injects into
    (every client made under a function's or the state machine's role), moto's handler is therefore wrapped:
    a matching fault answers instead of moto, anything else goes to moto.
    """

    def __init__(self, runtime: LambdaRuntime) -> None:
        self._rules: list[_Rule] = []
        self._gated: set[int] = set()
        self._runtime = runtime
        runtime.on_client(self._gate)

    def fail(
        self,
        service: str,
        operation: str,
        reply: Reply,
        *,
        times: int,
        table: str | None = None,
        item: str | None = None,
    ) -> None:
        """Answer the next `times` `operation` requests (on `table`'s `item` only, if given) with `reply`, not moto."""
        service_id = botocore.session.get_session().get_service_model(service).service_id.hyphenize()
        self._rules.append(_Rule(f"before-send.{service_id}.{operation}", reply, times, table, item))

    def _gate(self, identity: str, app_client: Any) -> None:
        if id(app_client) not in self._gated:
            app_client.meta.events.unregister("before-send", botocore_stubber)
            app_client.meta.events.register("before-send", self._answer)
            self._gated.add(id(app_client))

    def _answer(self, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
        for rule in self._rules:
            if rule.applies(event_name, request):
                rule.answered += 1
                return rule.reply(request)
        return botocore_stubber(event_name=event_name, request=request, **kwargs)

    def break_next_download(self, how: str) -> None:
        """The next GetObject of a diagnostics file loses its connection a third of the way through the body."""
        make_error, _ = STREAM_BREAKS[how]
        broken: list[bool] = []

        def after_call(parsed: dict[str, Any], **_: Any) -> None:
            if broken or "Body" not in parsed:
                return
            broken.append(True)
            length = int(parsed["ContentLength"])
            raw = parsed["Body"]._raw_stream
            parsed["Body"] = StreamingBody(_BreaksMidway(raw, length // 3, make_error()), length)

        def on_s3_clients(identity: str, app_client: Any) -> None:
            if app_client.meta.service_model.service_name == "s3":
                app_client.meta.events.register("after-call.s3.GetObject", after_call)

        self._runtime.on_client(on_s3_clients)


@pytest.fixture
def faults(lambda_runtime: LambdaRuntime) -> Faults:
    """Faults for this test's clients (the clients, and so the faults, are new in every test)."""
    return Faults(lambda_runtime)


class LambdaKilled(BaseException):
    """The Lambda runtime ended the invocation (timeout, out of memory): not an Exception, so nothing of ours
    catches it."""


@contextmanager
def killed_when_calling(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> Iterator[None]:
    """Within the block, calling `owner.name` kills the invocation there. A killed process runs none of its
    clean-up: the ledger's release (in the gate's `except`, usecases/once.py) does nothing, so the claim stays
    as it was."""

    def die(*_args: Any, **_kwargs: Any) -> None:
        raise LambdaKilled(f"killed in {name}")

    with monkeypatch.context() as patch:
        patch.setattr(owner, name, die)
        patch.setattr(ledger, "release", lambda table, key: None)
        yield


class LedgerClock:
    """The ledger's clock (its claim leases), moved forward without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        monkeypatch.setattr(ledger, "time", self)

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def past_the_lease(self) -> None:
        """Further than any claim made so far can reach (CLAIM_SECONDS after it was made)."""
        self.advance(get_settings().claim_seconds + 1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> LedgerClock:
    return LedgerClock(monkeypatch)


# ==================================================================================================
# Observing the end state
# ==================================================================================================


def ledger_state(stack: EmulatedStack, key: str) -> str | None:
    """CLAIMED, SENT, or None when the key is not in the alert ledger."""
    item = (
        boto3.client("dynamodb")
        .get_item(TableName=stack.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    return None if item is None else str(item["state"]["S"])


def summary_written(stack: EmulatedStack, key: str = SUMMARY_KEY) -> bool:
    listed = boto3.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=key)
    return bool(listed.get("Contents"))


def operations_alarms(namespace: str, metric: str, dimension: tuple[str, Any]) -> list[dict[str, Any]]:
    """The template's alarms on `metric` with `dimension` that notify the operations topic."""
    name, value = dimension
    return [
        properties
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and (properties := resource["Properties"])["Namespace"] == namespace
        and properties["MetricName"] == metric
        and {"Name": name, "Value": value} in properties.get("Dimensions", [])
        and {"Ref": "OpsTopic"} in properties["AlarmActions"]
    ]


def assert_parked_in_the_dead_letter_queue_with_an_alarm() -> None:
    """After its retries, a failed S3-trigger event goes to the on-failure destination, a queue whose depth
    is alarmed to the operations topic (see tests/infrastructure/test_template.py for the details)."""
    on_failure = RESOURCES["DiagnosticsFunction"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    queue = on_failure["Destination"]["Fn::GetAtt"][0]
    assert RESOURCES[queue]["Type"] == "AWS::SQS::Queue"
    assert operations_alarms(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName", {"Fn::GetAtt": [queue, "QueueName"]})
    )


# ==================================================================================================
# The S3 trigger (DiagnosticsFunction)
# ==================================================================================================


def upload_diagnostics(stack: EmulatedStack, key: str = KEY) -> None:
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, SPEC)
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=buffer.getvalue())


def diagnostics_key(stack: EmulatedStack, key: str = KEY) -> str:
    head = boto3.client("s3").head_object(Bucket=stack.bucket, Key=key)
    return alert_keys.diagnostics_key(stack.bucket, key, head["ETag"].strip('"'), head.get("VersionId"))


def register_model(lookout: FakeLookout, stack: EmulatedStack) -> None:
    lookout.add_model(
        "pump-station-7", diagnostics_bucket=stack.bucket, diagnostics_prefix="diagnostics/pump station=7/"
    )
    lookout.add_version(
        "pump-station-7", 3, model_quality="QUALITY_THRESHOLD_MET", diagnostics_object=(stack.bucket, KEY)
    )


def object_created(bucket: str = EXAMPLE_BUCKET, key: str = KEY) -> dict[str, Any]:
    """The EventBridge 'Object Created' event from events/, announcing the object stored at `key` now."""
    return announcement("eventbridge-object-created", bucket, key)


def deliver(announced: dict[str, Any] | None = None) -> dict[str, Any]:
    """One invocation of the S3 trigger (EventBridge invokes it asynchronously), under its role."""
    result: dict[str, Any] = current_runtime().invoke("DiagnosticsFunction", announced or object_created())
    return result


@pytest.mark.parametrize("how", list(STREAM_BREAKS))
def test_s3_failing_mid_stream_fails_the_invocation_and_the_retry_alerts_once(
    stack: EmulatedStack, lookout: FakeLookout, faults: Faults, how: str
) -> None:
    # Given a diagnostics file whose download breaks a third of the way through
    register_model(lookout, stack)
    upload_diagnostics(stack)
    faults.break_next_download(how)
    # When the file is announced, the invocation fails with the transport error (so Lambda retries it) ...
    with pytest.raises(STREAM_BREAKS[how][1]):
        deliver()
    # ... having sent nothing: not an "unreadable file" alert, no summary, and no claim left behind
    assert stack.received_alerts() == []
    assert not summary_written(stack)
    assert ledger_state(stack, diagnostics_key(stack)) is None
    # And when Lambda's retry reads the file whole, exactly one alert goes out, with the summary
    assert deliver()["outcomes"][0]["status"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "DIAGNOSTICS_SUMMARY"
    assert alert.body["summary"]["rows"] == SPEC.rows
    assert summary_written(stack)
    assert ledger_state(stack, diagnostics_key(stack)) == "SENT"


@pytest.mark.parametrize("failing_attempts", [1, 1 + LAMBDA_RETRIES], ids=["recovers-on-retry", "outlasts-retries"])
def test_a_throttled_ledger_fails_the_invocation_before_anything_is_sent(
    stack: EmulatedStack, lookout: FakeLookout, faults: Faults, failing_attempts: int
) -> None:
    # Given the ledger table throttles every claim for `failing_attempts` invocations (beyond the SDK's retries)
    register_model(lookout, stack)
    upload_diagnostics(stack)
    faults.fail("dynamodb", "PutItem", dynamodb_throttled, times=SDK_ATTEMPTS * failing_attempts, table=stack.table)
    # When the event is delivered, and retried by Lambda while the table is still throttled
    for _attempt in range(failing_attempts):
        with pytest.raises(ClientError) as raised:
            deliver()
        assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    # Then nothing was sent or claimed while it failed
    assert stack.received_alerts() == []
    assert ledger_state(stack, diagnostics_key(stack)) is None
    if failing_attempts > LAMBDA_RETRIES:
        # Every attempt failed: the event is parked in the dead-letter queue, and the alarm tells operations
        assert_parked_in_the_dead_letter_queue_with_an_alarm()
    # And the next attempt after recovery (Lambda's retry, or a replay from the queue) alerts exactly once
    assert deliver()["outcomes"][0]["status"] == "ALERTED"
    assert len(stack.received_alerts()) == 1
    assert ledger_state(stack, diagnostics_key(stack)) == "SENT"


@pytest.mark.parametrize(
    ("where", "owner", "name"),
    [
        ("while summarising", diagnostics_service, "summarise_stream"),
        ("while publishing, before SNS accepted", sns, "publish"),
    ],
)
def test_a_killed_invocation_is_parked_and_a_replay_after_the_lease_alerts_once(
    stack: EmulatedStack,
    lookout: FakeLookout,
    clock: LedgerClock,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    owner: object,
    name: str,
) -> None:
    # Given an invocation that claimed the alert and then was killed by Lambda (a timeout) before sending it
    register_model(lookout, stack)
    upload_diagnostics(stack)
    with killed_when_calling(monkeypatch, owner, name), pytest.raises(LambdaKilled):
        deliver()
    key = diagnostics_key(stack)
    assert ledger_state(stack, key) == "CLAIMED"
    # When Lambda retries it (1 and then 2 minutes later, inside the claim's lease)
    for delay in LAMBDA_RETRY_DELAYS[:LAMBDA_RETRIES]:
        clock.advance(delay)
        with pytest.raises(AlertInProgressError):
            deliver()
    # Then nothing was sent, and the failed event is parked in the dead-letter queue with an alarm
    assert stack.received_alerts() == []
    assert_parked_in_the_dead_letter_queue_with_an_alarm()
    # And when a person replays it after the lease, exactly one alert goes out
    clock.past_the_lease()
    assert deliver()["outcomes"][0]["status"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.attributes["model_name"] == "pump-station-7"
    assert ledger_state(stack, key) == "SENT"
    assert deliver()["outcomes"][0]["status"] == "DUPLICATE"
    assert stack.received_alerts() == []


@pytest.mark.parametrize("fault", ["throttled", "killed"])
def test_when_the_ledger_cannot_record_a_sent_alert_it_is_delivered_once_and_the_event_parked(
    stack: EmulatedStack,
    lookout: FakeLookout,
    faults: Faults,
    clock: LedgerClock,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    # Given SNS accepted the alert, but the ledger could not mark it sent (throttled beyond retries, or the
    # invocation was killed between the two calls)
    register_model(lookout, stack)
    upload_diagnostics(stack)
    if fault == "throttled":
        faults.fail("dynamodb", "UpdateItem", dynamodb_throttled, times=SDK_ATTEMPTS, table=stack.table)
        with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
            deliver()
    else:
        with killed_when_calling(monkeypatch, ledger, "mark_sent"), pytest.raises(LambdaKilled):
            deliver()
    key = diagnostics_key(stack)
    assert ledger_state(stack, key) == "CLAIMED"
    # When Lambda retries the failed invocation inside the lease
    for delay in LAMBDA_RETRY_DELAYS[:LAMBDA_RETRIES]:
        clock.advance(delay)
        with pytest.raises(AlertInProgressError):
            deliver()
    # Then the alert was delivered exactly once, and the event is parked in the dead-letter queue with an alarm
    [delivered] = stack.received_alerts()
    assert_parked_in_the_dead_letter_queue_with_an_alarm()
    # The at-least-once window, stated: the ledger cannot tell this claim from one whose alert never went out,
    # so a replay after the lease sends the same alert again (nothing is lost; it may arrive twice)
    clock.past_the_lease()
    assert deliver()["outcomes"][0]["status"] == "ALERTED"
    [repeated] = stack.received_alerts()
    assert repeated.subject == delivered.subject
    assert ledger_state(stack, key) == "SENT"


def test_a_claim_lost_to_a_concurrent_invocation_is_retried_into_a_duplicate(
    stack: EmulatedStack, lookout: FakeLookout
) -> None:
    # Given two deliveries of the same file (EventBridge and an S3 notification) processed at the same time:
    # the second one runs while the first is publishing
    register_model(lookout, stack)
    upload_diagnostics(stack)
    raced: list[BaseException] = []

    def second_delivery_meanwhile(**_: Any) -> None:
        if raced:
            return
        try:
            current_runtime().invoke("DiagnosticsFunction", announcement("s3-notification", EXAMPLE_BUCKET, KEY))
        except AlertInProgressError as error:
            raced.append(error)

    sns_client = current_runtime().client("DiagnosticsFunction", "sns")
    sns_client.meta.events.register("before-send.sns.Publish", second_delivery_meanwhile)
    # When the first one alerts
    first = deliver()
    # Then the second lost the conditional write and failed, so that Lambda retries it
    assert len(raced) == 1
    assert first["outcomes"][0]["status"] == "ALERTED"
    # And its retry finds the alert sent: one alert in all
    retried = current_runtime().invoke("DiagnosticsFunction", announcement("s3-notification", EXAMPLE_BUCKET, KEY))
    assert retried["outcomes"][0]["status"] == "DUPLICATE"
    assert len(stack.received_alerts()) == 1


def test_lookout_failing_beyond_the_sdk_retries_still_alerts_without_the_model(
    stack: EmulatedStack, lookout: FakeLookout, retry_sleeps: list[float]
) -> None:
    # Given L4E answers every ListModels attempt of one call with a 5xx
    register_model(lookout, stack)
    upload_diagnostics(stack)
    lookout.fail_next("ListModels", "InternalServerException", times=SDK_ATTEMPTS)
    # When the file is announced
    result = deliver()
    # Then the SDK retried with backoff, gave up, and the alert went out anyway, saying why it names no model
    assert len(retry_sleeps) == SDK_ATTEMPTS - 1
    assert result["outcomes"][0]["status"] == "ALERTED"
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "DIAGNOSTICS_SUMMARY"
    assert alert.attributes["model_name"] == "(none)"
    assert alert.body["model"] is None
    assert "could not be asked" in alert.body["model_lookup"]
    assert "InternalServerException" in alert.body["model_lookup"]
    assert ledger_state(stack, diagnostics_key(stack)) == "SENT"


# ==================================================================================================
# The training workflow (Step Functions, the real ASL in moto's interpreter)
# ==================================================================================================


@pytest.fixture
def machine(stack: EmulatedStack, lookout: FakeLookout) -> Iterator[EmulatedStateMachine]:
    with EmulatedStateMachine() as emulated:
        create_training_workflow(emulated)
        yield emulated


def write_diagnostics_on_completion(model: FakeModel, version: FakeModelVersion | None) -> None:
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, SPEC)
    writes_diagnostics(buffer.getvalue())(model, version)


def train(machine: EmulatedStateMachine) -> ExecutionResult:
    return machine.run(TRAINING_INPUT, name="train-1")


def state_attempts(state: str, error: str) -> int:
    """How many times the state machine runs `state` when it keeps failing with `error` (1 + its MaxAttempts)."""
    [retrier] = [retrier for retrier in ASL_STATES[state].get("Retry", []) if error in retrier["ErrorEquals"]]
    return 1 + int(retrier["MaxAttempts"])


def assert_failed_executions_alarm_operations() -> None:
    assert operations_alarms("AWS/States", "ExecutionsFailed", ("StateMachineArn", {"Ref": "TrainingStateMachine"}))


def test_sns_down_during_the_failure_report_ends_in_alert_not_sent_with_an_alarm(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, faults: Faults
) -> None:
    # Given L4E refuses the training, and SNS fails every attempt of the failure report's publish
    # (the report is tried three times: once, then twice more by the state machine's Retry)
    lookout.fail_next("CreateModel", "ValidationException", "TrainingDataEndTime is before TrainingDataStartTime")
    faults.fail("sns", "Publish", sns_internal_error, times=3 * SDK_ATTEMPTS)
    # When the workflow runs
    result = train(machine)
    # Then the execution fails with its own name for it, no alert went out, and no claim is left behind
    assert (result.status, result.error) == ("FAILED", "AlertNotSent")
    assert "operations alarms" in (result.cause or "")
    assert states_entered(result)[-2:] == ["ReportFailure", "AlertNotSent"]
    assert stack.received_alerts() == []
    assert ledger_state(stack, f"workflow#{result.execution_arn}") is None
    # And the failed execution sets off the alarm on failed executions, which notifies operations
    assert_failed_executions_alarm_operations()


def test_a_throttled_ledger_in_finish_training_is_retried_and_the_training_alerts_once(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, faults: Faults
) -> None:
    # Given a training that succeeds and writes its diagnostics, and a ledger table that throttles the
    # FinishTraining step's claim beyond the SDK's retries, then recovers
    lookout.train_on_create(TRAINED_MODEL, in_progress_polls=1, on_complete=write_diagnostics_on_completion)
    faults.fail("dynamodb", "PutItem", dynamodb_throttled, times=SDK_ATTEMPTS, table=stack.table)
    # When the workflow runs
    result = train(machine)
    # Then the state machine retried the step after a backoff, and the training succeeded with one alert
    finish = [call for call in machine.invocations if call.function_name == "TrainingFinishedFunction"]
    assert [type(call.error).__name__ for call in finish] == ["ProvisionedThroughputExceededException", "NoneType"]
    [interval] = machine.retry_intervals
    assert 0 <= interval <= 30  # 30 s with full jitter
    assert result.status == "SUCCEEDED", result.cause
    [diagnostics] = stack.received_alerts()
    assert diagnostics.attributes["event_type"] == "DIAGNOSTICS_SUMMARY"
    assert diagnostics.attributes["model_name"] == TRAINED_MODEL


def test_a_ledger_throttled_through_every_retry_fails_the_execution_and_the_s3_trigger_still_alerts(
    machine: EmulatedStateMachine, lookout: FakeLookout, stack: EmulatedStack, faults: Faults
) -> None:
    # Given the ledger throttles FinishTraining's claim through all three attempts (it recovers before the report)
    lookout.train_on_create(TRAINED_MODEL, in_progress_polls=1, on_complete=write_diagnostics_on_completion)
    faults.fail("dynamodb", "PutItem", dynamodb_throttled, times=3 * SDK_ATTEMPTS, table=stack.table)
    # When the workflow runs
    result = train(machine)
    # Then the execution fails with a named error and one failure alert saying what happened
    assert (result.status, result.error) == ("FAILED", "WorkflowError")
    [failure] = stack.received_alerts()
    assert failure.attributes["event_type"] == "WORKFLOW_FAILED"
    assert "ProvisionedThroughputExceededException" in failure.body["cause"]
    assert_failed_executions_alarm_operations()
    # And the diagnostics alert is not lost: nothing claimed it, so the S3 trigger's delivery of the same file
    # alerts exactly once
    version = lookout.model(TRAINED_MODEL).versions[1]
    assert version.diagnostics_object is not None
    bucket, key = version.diagnostics_object
    assert bucket == stack.bucket
    assert ledger_state(stack, diagnostics_key(stack, key)) is None
    assert deliver(object_created(bucket, key))["outcomes"][0]["status"] == "ALERTED"
    [diagnostics] = stack.received_alerts()
    assert diagnostics.attributes["event_type"] == "DIAGNOSTICS_SUMMARY"
    assert diagnostics.attributes["model_name"] == TRAINED_MODEL


@pytest.mark.parametrize(
    ("operation", "code", "state", "error"),
    [
        # direct SDK tasks: moto's executor makes one request per state attempt, the state machine retries
        ("DescribeModel", "InternalServerException", "DescribeModel", "LookoutEquipment.InternalServerException"),
        ("DescribeModel", "ThrottlingException", "DescribeModel", "LookoutEquipment.ThrottlingException"),
        # the StartTraining Lambda step: the SDK retries inside each invocation, then the state machine retries it
        ("CreateModel", "InternalServerException", "StartTraining", "LookoutUnavailableError"),
        ("CreateModel", "ThrottlingException", "StartTraining", "LookoutUnavailableError"),
    ],
)
def test_lookout_failing_beyond_every_retry_is_a_named_failure_with_an_alert(
    machine: EmulatedStateMachine,
    lookout: FakeLookout,
    stack: EmulatedStack,
    operation: str,
    code: str,
    state: str,
    error: str,
) -> None:
    # Given L4E fails every attempt of `operation`, the SDK's and the state machine's
    attempts = state_attempts(state, error)
    lookout.train_on_create(TRAINED_MODEL, in_progress_polls=1, on_complete=write_diagnostics_on_completion)
    lookout.fail_next(operation, code, times=attempts * SDK_ATTEMPTS)  # type: ignore[arg-type]
    # When the workflow runs
    result = train(machine)
    # Then the state machine made every attempt its Retry allows (backing off, not slept) ...
    assert len(machine.retry_intervals) == attempts - 1
    if operation == "DescribeModel":
        assert len(lookout.calls_to(operation)) == attempts
    else:
        step = [call for call in machine.invocations if call.function_name == "StartTrainingFunction"]
        assert [type(call.error).__name__ for call in step] == ["LookoutUnavailableError"] * attempts
        # each after the SDK's own retries (fewer once the client's retry quota is spent: 14 units a 5xx retry)
        assert attempts < len(lookout.calls_to(operation)) <= attempts * SDK_ATTEMPTS
    # ... and the execution failed as LookoutUnavailable, with one alert saying so and what to do
    assert (result.status, result.error) == ("FAILED", "LookoutUnavailable")
    [alert] = stack.received_alerts()
    assert alert.attributes["event_type"] == "WORKFLOW_FAILED"
    assert alert.body["error"] == "LookoutUnavailable"
    assert "start the execution again later" in alert.body["advice"]
    assert ledger_state(stack, f"workflow#{result.execution_arn}") == "SENT"


# ==================================================================================================
# The status poller (StatusPollerFunction)
# ==================================================================================================


def poll() -> dict[str, Any]:
    report: dict[str, Any] = current_runtime().invoke("StatusPollerFunction", event("scheduled-poll"))
    return report


@pytest.fixture
def retrained(stack: EmulatedStack, lookout: FakeLookout, capsys: pytest.CaptureFixture[str]) -> str:
    """A model the poller has seen (version 1), then a retraining that succeeded (version 2): its ARN.

    Its diagnostics go to a bucket the stack does not watch, so the poller owes one alert and one event.
    """
    lookout.add_model(POLLED_MODEL, diagnostics_bucket="team-archive", diagnostics_prefix=f"{POLLED_MODEL}/")
    lookout.add_version(POLLED_MODEL, 1)
    assert poll()["first_sightings"] == 1
    lookout.add_version(POLLED_MODEL, 2, source_type="RETRAINING")
    capsys.readouterr()  # the first run's metrics
    return lookout.model(POLLED_MODEL).arn


def stored_versions(stack: EmulatedStack, model_arn: str) -> set[int]:
    seen = model_state.load(stack.state_table, model_arn)
    assert seen is not None
    return set(seen.versions)


def assert_announced_once(stack: EmulatedStack, model_arn: str) -> None:
    """Exactly one alert and one event for version 2 in all, and the model's state advanced."""
    assert [alert.subject for alert in stack.received_alerts()] == [f"[OK] {POLLED_MODEL} v2: succeeded"]
    [announced] = stack.received_events()
    assert (announced["detail"]["model_version"], announced["detail"]["outcome"]) == (2, "SUCCEEDED")
    assert stored_versions(stack, model_arn) == {1, 2}
    assert ledger_state(stack, outcome_key(model_arn, 2, Outcome.SUCCEEDED)) == "SENT"


@pytest.mark.parametrize(
    ("operation", "announced_before_failing"),
    [("GetItem", False), ("PutItem", True)],
    ids=["reading-the-state", "storing-the-state"],
)
def test_a_throttled_state_table_is_reported_and_the_next_run_announces_once(
    stack: EmulatedStack,
    lookout: FakeLookout,
    faults: Faults,
    retrained: str,
    capsys: pytest.CaptureFixture[str],
    operation: str,
    announced_before_failing: bool,
) -> None:
    # Given the state table throttles the run's `operation` on the model's item beyond the SDK's retries
    faults.fail("dynamodb", operation, dynamodb_throttled, times=SDK_ATTEMPTS, table=stack.state_table, item=retrained)
    # When the poller runs
    report = poll()
    # Then the run reports the model's error (PollErrors, alarmed) and the model's state does not advance
    [error] = report["errors"]
    assert error.startswith(f"{POLLED_MODEL}: ProvisionedThroughputExceededException")
    assert emitted_metrics(capsys.readouterr().out)["PollErrors"] == 1
    assert operations_alarms("LookoutDiagnostics", "PollErrors", ("service", "lookout-diagnostics"))
    assert stored_versions(stack, retrained) == {1}
    # (when storing failed, the alert and the event had already gone out; reading failed before either)
    assert report["alerts_sent"] == report["events_put"] == int(announced_before_failing)
    # And the next run, after recovery, leaves exactly one alert and one event in all
    again = poll()
    assert again["errors"] == []
    assert (again["alerts_sent"], again["events_put"]) == (int(not announced_before_failing),) * 2
    assert emitted_metrics(capsys.readouterr().out)["PollErrors"] == 0
    assert_announced_once(stack, retrained)


def test_eventbridge_refusing_the_event_is_reported_and_the_next_run_puts_it_once(
    stack: EmulatedStack, lookout: FakeLookout, faults: Faults, retrained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given EventBridge accepts the PutEvents call but fails its entry (FailedEntryCount 1)
    faults.fail("events", "PutEvents", put_events_entry_failed, times=1)
    # When the poller runs
    report = poll()
    # Then the alert went out, the event did not, the run reports it, and the state does not advance
    [error] = report["errors"]
    assert error.startswith(f"{POLLED_MODEL}: EventNotPublishedError: InternalFailure")
    assert (report["alerts_sent"], report["events_put"]) == (1, 0)
    assert emitted_metrics(capsys.readouterr().out)["PollErrors"] == 1
    assert stored_versions(stack, retrained) == {1}
    # And the next run puts the event once without repeating the alert
    again = poll()
    assert (again["errors"], again["alerts_sent"], again["events_put"]) == ([], 0, 1)
    assert_announced_once(stack, retrained)


def test_lookout_failing_to_list_models_fails_the_run_for_the_errors_alarm_and_the_next_run_catches_up(
    stack: EmulatedStack,
    lookout: FakeLookout,
    retrained: str,
    retry_sleeps: list[float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given L4E answers every attempt of the run's ListModels call with a 5xx
    lookout.fail_next("ListModels", "InternalServerException", times=SDK_ATTEMPTS)
    # When the poller runs, the whole run fails (the SDK retried with backoff first)
    with pytest.raises(ClientError) as raised:
        poll()
    assert raised.value.response["Error"]["Code"] == "InternalServerException"
    assert len(retry_sleeps) == SDK_ATTEMPTS - 1
    # Then the function's Errors alarm notifies operations; the run emits no ModelsSeen, so a poller that keeps
    # failing also sets off the stale-poller alarm; nothing was announced and the state did not advance
    assert operations_alarms("AWS/Lambda", "Errors", ("FunctionName", {"Ref": "StatusPollerFunction"}))
    assert "ModelsSeen" not in emitted_metrics(capsys.readouterr().out)
    assert operations_alarms("LookoutDiagnostics", "ModelsSeen", ("service", "lookout-diagnostics"))
    assert stack.received_alerts() == [] and stack.received_events() == []
    assert stored_versions(stack, retrained) == {1}
    # And the next scheduled run (the poller is never retried) announces the change exactly once
    assert poll()["errors"] == []
    assert_announced_once(stack, retrained)


@pytest.mark.parametrize(
    ("where", "owner", "name"),
    [("publishing the alert", sns, "publish"), ("putting the event", eventbridge, "put_outcome")],
)
def test_a_killed_run_is_reported_until_its_claim_expires_then_announced_once(
    stack: EmulatedStack,
    lookout: FakeLookout,
    clock: LedgerClock,
    monkeypatch: pytest.MonkeyPatch,
    retrained: str,
    capsys: pytest.CaptureFixture[str],
    where: str,
    owner: object,
    name: str,
) -> None:
    # Given a run killed (its 120 s timeout) while `where`, holding that announcement's claim
    with killed_when_calling(monkeypatch, owner, name), pytest.raises(LambdaKilled):
        poll()
    capsys.readouterr()
    assert stored_versions(stack, retrained) == {1}
    # When the next scheduled run comes, 5 minutes later, inside the claim's lease
    clock.advance(300)
    report = poll()
    # Then it reports the announcement in progress (PollErrors, alarmed), sends nothing more, keeps the state
    [error] = report["errors"]
    assert error.startswith(f"{POLLED_MODEL}: AlertInProgressError")
    assert emitted_metrics(capsys.readouterr().out)["PollErrors"] == 1
    assert stored_versions(stack, retrained) == {1}
    # And the first run after the lease completes the announcements: one alert and one event in all
    clock.past_the_lease()
    assert poll()["errors"] == []
    assert_announced_once(stack, retrained)
