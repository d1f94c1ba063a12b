"""What template.yaml deploys: a reviewable record of every resource, as written and as resolved.

The record holds the template itself as CloudFormation receives it from `sam deploy` (YAML anchors,
aliases and merge keys expanded: every parameter, condition, resource, condition name, property,
metadata entry and output), and, for two deployments (a set of parameters each), every resource whose
condition holds with its properties resolved as CloudFormation would (tests/support/iam_policies.py),
the Globals that SAM applies and the outputs: the policies as a reviewer reads them. Writing the template
differently cannot change the record; changing what it deploys does. Checkov skip rationales are prose
and may be reworded: only the skipped check ids are recorded.

tests/infrastructure/template_snapshot.json holds the record; a test compares it with the template.
After an intended change, regenerate it and review the difference::

    make template-snapshot
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.support.iam_policies import ACCOUNT, NO_VALUE, REGION, Stack
from tests.support.template import ROOT, fresh_template

SNAPSHOT = ROOT / "tests" / "infrastructure" / "template_snapshot.json"

DEPLOYMENTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "existing bucket and role, customer keys, labels, emails, diagnostics on models": {
        "ExistingBucketName": "team-l4e-output",
        "DiagnosticsKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "LogsKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/ffffffff-12ab-34cd-56ef-1234567890ab",
        "LookoutRoleArn": f"arn:aws:iam::{ACCOUNT}:role/team-l4e",
        "LabelsBucketName": "team-l4e-labels",
        "AlertEmail": "reliability@example.com",
        "OpsEmail": "operations@example.com",
        "EnableDiagnosticsOnModels": "true",
    },
}


def resolved_deployment(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The deployment's Globals, resources and outputs, resolved for `parameters`."""
    stack = Stack(template, **parameters)

    def kept(section: dict[str, Any]) -> dict[str, Any]:
        return {
            name: entry
            for name, entry in section.items()
            if "Condition" not in entry or stack.condition(entry["Condition"])
        }

    def resolved(entry: dict[str, Any]) -> dict[str, Any]:
        found = {
            key: value
            for key, value in ((key, stack.resolve(value)) for key, value in entry.items())
            if key not in ("Condition", "Metadata") and value is not NO_VALUE
        }
        skips = entry.get("Metadata", {}).get("checkov", {}).get("skip")
        if skips:
            found["CheckovSkips"] = sorted(skip["id"] for skip in skips)
        return found

    return {
        "Globals": stack.resolve(template["Globals"]),
        "Resources": {name: resolved(entry) for name, entry in kept(template["Resources"]).items()},
        "Outputs": {name: resolved(entry) for name, entry in kept(template["Outputs"]).items()},
    }


def as_written(template: dict[str, Any]) -> dict[str, Any]:
    """The whole template, checkov skip rationales left out (their check ids kept)."""
    written: dict[str, Any] = json.loads(json.dumps(template))
    written.get("Metadata", {}).pop("AcceptedCheckovFindings", None)
    for resource in written["Resources"].values():
        skips = resource.get("Metadata", {}).get("checkov", {}).get("skip")
        if skips:
            resource["Metadata"]["checkov"]["skip"] = sorted(skip["id"] for skip in skips)
    return written


def snapshot(template: dict[str, Any]) -> dict[str, Any]:
    """The template as written, and every deployment of DEPLOYMENTS resolved."""
    return {
        "template": as_written(template),
        "deployments": {name: resolved_deployment(template, parameters) for name, parameters in DEPLOYMENTS.items()},
    }


def as_text(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the snapshot of the current template (`make template-snapshot`)."""
    SNAPSHOT.write_text(as_text(snapshot(fresh_template())), encoding="utf-8")
    print(f"wrote {SNAPSHOT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
