"""Integration tests run with moto's IAM enforcement on, each handler under its own role from template.yaml.

- ``aws`` (overrides tests/conftest.py's): moto with IAM enforcement; the test side (``boto3.client``,
  and src/ functions a test calls directly) acts as an administrator. See tests/support/iam.py.
- ``lambda_runtime``: the template's functions, each under its role; ``invoke("DiagnosticsFunction", event)``
  calls a handler the way Lambda would (module-level helpers: ``current_runtime().invoke(...)``). It runs
  in every test that has the ``stack``; ``EmulatedStateMachine()`` then runs the workflow's steps and its
  own SDK calls under their roles too.

A request refused under a role that the test did not expect (and take, with ``pop_denials``) fails the test,
even when the code under test swallowed the error: a permission the code needs and the template lacks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.support.iam import IAM_MOCK_CONFIG, IamEnforcement, Invoke, LambdaRuntime
from tests.support.stack import EmulatedStack


@pytest.fixture
def aws() -> Iterator[IamEnforcement]:
    with mock_aws(config=IAM_MOCK_CONFIG), IamEnforcement() as enforcement:
        yield enforcement


@pytest.fixture
def lambda_runtime(aws: IamEnforcement, stack: EmulatedStack) -> Iterator[LambdaRuntime]:
    with LambdaRuntime(stack, aws) as runtime:
        yield runtime
    unexpected = runtime.pop_denials()
    problems = runtime.problems
    if unexpected or problems:
        listed = "\n".join(
            [f"  - {d.identity} may not {d.action} on {d.resource} ({d.operation})" for d in unexpected]
            + [f"  - {problem}" for problem in problems]
        )
        pytest.fail(f"requests refused under the template's roles that the test did not expect:\n{listed}")


@pytest.fixture(autouse=True)
def _handlers_under_their_roles(request: pytest.FixtureRequest) -> None:
    """A test with the emulated stack has the runtime running: helpers (``current_runtime().invoke``) and the
    state machine harness find it, and unexpected refusals fail the test. Its account has Lookout for Equipment
    and AWS IoT SiteWise, as an account does: each empty unless the test fills its fake (``lookout``,
    ``sitewise``), since the stack serves both."""
    if "stack" in request.fixturenames:
        request.getfixturevalue("lookout")
        request.getfixturevalue("sitewise")
        request.getfixturevalue("lambda_runtime")


@pytest.fixture
def invoke(lambda_runtime: LambdaRuntime) -> Invoke:
    """Call a function's handler as Lambda would: `invoke("DiagnosticsFunction", event)`, under its role."""
    return lambda_runtime.invoke
