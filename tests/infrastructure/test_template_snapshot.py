"""template.yaml deploys what tests/infrastructure/template_snapshot.json records, however it is written.

The template shares repeated parts through YAML anchors, aliases and merge keys. CloudFormation's API
does not read those: `sam deploy` (and `sam package`, `sam build`) parse the template and write it out
again with every alias expanded. The last test checks that with the SAM CLI's own code.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.support.template import TEMPLATE, fresh_template
from tests.support.template_snapshot import SNAPSHOT, as_text, snapshot
from tests.support.tools import SAM_PYTHON, installed


def test_the_template_deploys_what_the_snapshot_records() -> None:
    # Given the recorded resources of two deployments (names, types, properties, policies, outputs)
    recorded = json.loads(SNAPSHOT.read_text(encoding="utf-8"))

    # When the template is resolved for the same deployments
    current = snapshot(fresh_template())

    # Then nothing differs (after an intended change: `make template-snapshot`, then review the diff)
    assert as_text(current) == as_text(recorded), "template.yaml no longer deploys what the snapshot records"


def test_the_snapshot_sees_a_changed_permission_but_not_a_rewording(template: dict[str, Any]) -> None:
    # Given the template, one copy granting one more action, one with a resource under another condition,
    # and one with a skip rationale reworded
    widened, recondition, reworded = (json.loads(json.dumps(template)) for _ in range(3))
    statements = widened["Resources"]["StartTrainingFunction"]["Properties"]["Policies"][0]["Statement"]
    statements[0]["Action"].append("lookoutequipment:DeleteModel")
    recondition["Resources"]["AlertEmailSubscription"]["Condition"] = "HasOpsEmail"
    for skip in reworded["Resources"]["DiagnosticsFunction"]["Metadata"]["checkov"]["skip"]:
        skip["comment"] = "Reworded."

    # When each is recorded
    # Then the wider grant and the other condition show, and the rewording does not
    assert snapshot(widened) != snapshot(template)
    assert snapshot(recondition) != snapshot(template)
    assert snapshot(reworded) == snapshot(template)


def test_sam_deploys_the_template_with_its_aliases_expanded(template: dict[str, Any]) -> None:
    # Given the SAM CLI's own parser and writer (what `sam package` and `sam deploy` upload)
    program = (
        "import json, sys\n"
        "from samcli.yamlhelper import yaml_dump, yaml_parse\n"
        "written = yaml_dump(yaml_parse(open(sys.argv[1]).read()))\n"
        "print(json.dumps({'written': written, 'reread': yaml_parse(written)}))\n"
    )

    # When it rewrites template.yaml
    result = subprocess.run(
        [installed(SAM_PYTHON), "-c", program, TEMPLATE], capture_output=True, text=True, check=True
    )
    output = json.loads(result.stdout)

    # Then the text it uploads has no anchor, alias or merge key left, and says what this project's
    # tests read from the template
    assert _sharing(TEMPLATE.read_text(encoding="utf-8")) != ([], [], [])  # (the check sees them in the source)
    assert _sharing(output["written"]) == ([], [], [])
    assert output["reread"]["Resources"] == template["Resources"]


def _sharing(text: str) -> tuple[list[str], list[str], list[int]]:
    """The anchors, the aliases and the lines of merge keys in a YAML text."""
    events = list(yaml.parse(text))
    anchors = [
        event.anchor for event in events if getattr(event, "anchor", None) and not isinstance(event, yaml.AliasEvent)
    ]
    aliases = [event.anchor for event in events if isinstance(event, yaml.AliasEvent)]
    merges = [
        event.start_mark.line + 1
        for event in events
        if isinstance(event, yaml.ScalarEvent) and event.value == "<<" and event.implicit[0]
    ]
    return anchors, aliases, merges
