"""The chat service's custom-notification schema, as Amazon Q Developer in chat applications documents it
(AdminGuide, "custom notifications"), written here apart from the code that makes cards: a card the code makes
is checked against this, not against the code's own model.

{"version": "1.0", "source": "custom", "id"?, "content": {"textType": "client-markdown", "title", "description",
 "nextSteps": [...], "keywords": [...]}, "metadata": {"threadId", "summary", "eventType", "relatedResources": [...],
 "additionalContext": {...}}}: version and source are required; client-markdown is the only text type. A card
the service does not recognise is dropped silently. No size is documented; cards of about 3,000 characters were
seen dropped where 2,500 arrived: DROPPED_FROM is where this stack's cards must stay clearly below.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DROPPED_FROM = 2500


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Content(_Strict):
    textType: Literal["client-markdown"]
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    nextSteps: list[str] | None = None
    keywords: list[str] | None = None


class Metadata(_Strict):
    threadId: str | None = Field(default=None, min_length=1)
    summary: str | None = None
    eventType: str | None = None
    relatedResources: list[str] | None = None
    additionalContext: dict[str, str] | None = None


class CustomNotification(_Strict):
    version: Literal["1.0"]
    source: Literal["custom"]
    id: str | None = None
    content: Content
    metadata: Metadata | None = None


def checked_card(https_body: str) -> dict[str, Any]:
    """The card an https subscriber receives, checked against the schema and the size; returned parsed."""
    assert len(https_body) < DROPPED_FROM, f"a card of {len(https_body)} characters may be dropped"
    card: dict[str, Any] = json.loads(https_body)
    CustomNotification.model_validate(card)
    return card
