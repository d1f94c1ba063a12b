"""The handlers' tracer: Powertools' Tracer when tracing is on, a stand-in without the X-Ray SDK when it is off.

Building Powertools' Tracer imports the X-Ray SDK (aws_xray_sdk, about a sixth of `import boto3`) even when
tracing is disabled, and then traces nothing. So `build_tracer()` builds one only when Powertools would trace:
in Lambda (Tracing: Active in template.yaml), unless POWERTOOLS_TRACE_DISABLED is true, and never under SAM
local or Chalice; the tests and the local run set POWERTOOLS_TRACE_DISABLED. Otherwise it returns `UNTRACED`,
whose decorators return the function itself, so a handler decorated at import works alike in both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, cast

# The class only: aws_lambda_powertools imports it anyway, and it loads the X-Ray SDK when it is built.
from aws_lambda_powertools.tracing.tracer import Tracer

Decorated = TypeVar("Decorated", bound=Callable[..., object])

# botocore alone: the AWS calls patch_all would trace here, without probing a dozen other libraries at import.
# A library added later whose calls should be traced (requests, say) must be added here.
PATCHED_MODULES = ("botocore",)


class Tracing(Protocol):
    """What the project uses of a tracer: Powertools' Tracer has it, and so has the stand-in."""

    def capture_lambda_handler(self, lambda_handler: Decorated) -> Decorated: ...

    def capture_method(self, method: Decorated) -> Decorated: ...

    def put_annotation(self, key: str, value: str | float | bool) -> None: ...

    def put_metadata(self, key: str, value: object, namespace: str | None = None) -> None: ...


class Untraced:
    """Tracing off: each decorator returns the function unchanged; annotations and metadata go nowhere."""

    def capture_lambda_handler(self, lambda_handler: Decorated) -> Decorated:
        return lambda_handler

    def capture_method(self, method: Decorated) -> Decorated:
        return method

    def put_annotation(self, key: str, value: str | float | bool) -> None:
        return None

    def put_metadata(self, key: str, value: object, namespace: str | None = None) -> None:
        return None


UNTRACED = Untraced()


def tracing_enabled() -> bool:
    """Whether Powertools' Tracer would trace here: its own rule, read from the environment now."""
    return not Tracer._is_tracer_disabled()


def build_tracer() -> Tracing:
    """Powertools' Tracer, patching PATCHED_MODULES, when tracing is on; UNTRACED when it is off."""
    if not tracing_enabled():
        return UNTRACED
    # Powertools annotates its decorators as returning Callable[..., Any]; they return the function wrapped
    # with functools.wraps and called alike, which is what Tracing states.
    return cast(Tracing, Tracer(patch_modules=list(PATCHED_MODULES)))
