"""The events the functions receive, as far as they are read, and how an event is validated.

This module holds `parse` and the EventBridge envelope every scheduled event has; the S3 trigger's events are in
lambda_events/s3.py, which only that function imports.

Powertools' event models validate every field of an event, and importing its parser package with the
S3 event models made the S3 trigger's cold start about 10 ms longer (pydantic's network types among
them): these models read only the fields the handlers use and ignore the others (newer ones included).
`parse` is Powertools' `parse` without an envelope: a failure raises pydantic's ValidationError, as
Powertools' does.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from lookout_diagnostics.models import Model

ParsedModel = TypeVar("ParsedModel", bound=BaseModel)
Parsed = TypeVar("Parsed")


@overload
def parse(event: Any, model: type[ParsedModel]) -> ParsedModel: ...


@overload
def parse(event: Any, model: TypeAdapter[Parsed]) -> Parsed: ...


def parse(event: Any, model: type[BaseModel] | TypeAdapter[Any]) -> Any:
    """The event validated against `model`, a model or a TypeAdapter (a union of models): a JSON string is decoded
    first, as by Powertools' parse."""
    if isinstance(model, TypeAdapter):
        return model.validate_json(event) if isinstance(event, str) else model.validate_python(event)
    return model.model_validate_json(event) if isinstance(event, str) else model.model_validate(event)


class EventBridgeEvent(Model):
    """Any EventBridge event (a scheduled one, for instance): its envelope's identity, no more."""

    model_config = ConfigDict(extra="ignore")

    id: str
    source: str
    detail_type: str = Field(alias="detail-type")
