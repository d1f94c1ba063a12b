"""EventBridge adapter: announce a training outcome, the event neither L4E nor SiteWise sends, and a fleet's digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.outcomes import OutcomeEvent
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.errors import EventNotPublishedError

if TYPE_CHECKING:  # the fleet's module is imported by the fleet alone (cold start)
    from lookout_diagnostics.domain.fleet import FleetDigestEvent

SOURCE = "lookout-diagnostics"
DETAIL_TYPE = "Lookout for Equipment Model Version Outcome"
# One family: the same source and detail schema; the detail type says the service (and `service` in the detail).
DETAIL_TYPES = {
    Service.LOOKOUT_FOR_EQUIPMENT: DETAIL_TYPE,
    Service.IOT_SITEWISE: "AWS IoT SiteWise Training Outcome",
}
FLEET_DETAIL_TYPE = "Fleet Training Digest"


def put_outcome(event: OutcomeEvent | FleetDigestEvent, bus: str) -> str:
    detail_type = DETAIL_TYPES[event.service] if isinstance(event, OutcomeEvent) else FLEET_DETAIL_TYPE
    request = {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": event.model_dump_json(),
        "EventBusName": bus,
    }
    response = client("events").put_events(Entries=[request])
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventNotPublishedError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
