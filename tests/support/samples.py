"""The sample events of events/, and the metrics a handler printed: read the same way by every test."""

from __future__ import annotations

import json
from typing import Any

from tests.support.template import ROOT

EVENTS = ROOT / "events"


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def emitted_metrics(printed: str) -> dict[str, Any]:
    """The metrics handlers printed (CloudWatch embedded metric format), summed by name."""
    values: dict[str, Any] = {}
    for line in printed.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]  # Powertools writes a metric's values as a list
                    values[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return values
