"""EventBridge adapter: announce a model version's outcome, the event L4E itself never sends."""

from __future__ import annotations

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.outcomes import OutcomeEvent
from lookout_diagnostics.errors import EventNotPublishedError

SOURCE = "lookout-diagnostics"
DETAIL_TYPE = "Lookout for Equipment Model Version Outcome"


def put_outcome(event: OutcomeEvent, bus: str) -> str:
    response = client("events").put_events(
        Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": event.model_dump_json(), "EventBusName": bus}]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventNotPublishedError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
