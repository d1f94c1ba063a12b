"""What statemachine/train_fleet.asl.json promises, checked on the file and the template (no execution): valid
ASL, no literal ARNs, a Distributed Map that a redrive can finish without training anything twice, and a role
that allows what the definition does and no more. The executions are in tests/integration/test_fleet_workflow.py."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

from tests.support.iam_policies import Stack
from tests.support.template import ROOT, event_matches, load_template
from tests.support.tools import ASL_VALIDATOR, installed

FLEET_ASL = ROOT / "statemachine" / "train_fleet.asl.json"
DEFINITION: dict[str, Any] = json.loads(FLEET_ASL.read_text())
MAP = DEFINITION["States"]["TrainAssets"]
CHILD_STATES: dict[str, Any] = MAP["ItemProcessor"]["States"]


def test_the_fleet_definition_is_valid_amazon_states_language() -> None:
    result = subprocess.run(
        [str(installed(ASL_VALIDATOR)), "--json-path", str(FLEET_ASL)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_placeholders_are_the_templates_substitutions_and_no_arn_is_literal() -> None:
    properties = load_template()["Resources"]["FleetStateMachine"]["Properties"]
    text = FLEET_ASL.read_text()
    assert set(re.findall(r"\$\{([^}]+)\}", text)) == set(properties["DefinitionSubstitutions"])
    assert properties["DefinitionUri"] == "statemachine/train_fleet.asl.json"
    assert not re.search(r"arn:aws:[a-z0-9-]+:[a-z0-9-]+:\d{12}", text)


def test_the_map_is_distributed_reads_the_plan_and_takes_its_limits_from_the_plan() -> None:
    assert MAP["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert MAP["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert MAP["ItemReader"]["Parameters"] == {"Bucket.$": "$.fleet.Bucket", "Key.$": "$.fleet.PlanKey"}
    assert MAP["MaxConcurrencyPath"] == "$.fleet.MaxConcurrency"
    assert MAP["ToleratedFailurePercentagePath"] == "$.fleet.ToleratedFailurePercentage"
    assert MAP["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"


def test_a_redrive_can_finish_a_failed_fleet_without_training_twice() -> None:
    # Given the fleet's definition and template
    resources = load_template()["Resources"]
    # Then a failed Map Run fails the execution (a Catch would end it in another state, and a redrive would
    # resume there instead of rerunning the children that did not succeed)
    assert "Catch" not in MAP
    # And the parent and the children are Standard executions (only they are redriven)
    assert resources["FleetStateMachine"]["Properties"]["Type"] == "STANDARD"
    # And each asset's training is named from the fleet and the asset, so a rerun child finds it
    train = CHILD_STATES["Train"]
    assert train["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert train["Parameters"]["Name.$"] == "$.asset.ExecutionName"
    [caught] = train["Catch"]
    assert caught["ErrorEquals"] == ["StepFunctions.ExecutionAlreadyExistsException"]
    assert caught["Next"] == "DescribeEarlierRun"
    assert CHILD_STATES["DescribeEarlierRun"]["Parameters"] == {"ExecutionArn.$": "$.asset.ExecutionArn"}


def test_the_digest_is_the_last_step_and_retries_what_is_transient() -> None:
    digest = DEFINITION["States"]["SendDigest"]
    assert MAP["Next"] == "SendDigest" and digest.get("End") is True
    assert digest["Parameters"]["started_at.$"] == "$$.Execution.StartTime"
    assert {error for retry in digest["Retry"] for error in retry["ErrorEquals"]} >= {
        "AlertInProgressError",
        "Lambda.TooManyRequestsException",
    }


def test_the_fleet_role_runs_its_own_children_and_the_single_asset_workflows_only() -> None:
    statements = {
        statement["Sid"]: statement
        for policy in load_template()["Resources"]["FleetStateMachine"]["Properties"]["Policies"]
        if "Statement" in policy
        for statement in policy["Statement"]
        if isinstance(statement, dict) and "Sid" in statement
    }
    children = statements["RunMapChildren"]["Resource"]["Fn::Sub"]
    assert children.endswith(":stateMachine:${AWS::StackName}-fleet")
    assert load_template()["Resources"]["FleetStateMachine"]["Properties"]["Name"] == {
        "Fn::Sub": "${AWS::StackName}-fleet"
    }
    assert statements["TrainAssets"]["Action"] == "states:StartExecution"
    assert statements["SyncRuleForAssetTrainings"]["Resource"]["Fn::Sub"].endswith(
        ":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
    )


def test_the_fleet_ended_rule_takes_the_fleets_failed_executions_and_nothing_else() -> None:
    # Given the rule SAM makes from FleetFunction's FleetEnded event, resolved for a stack
    template = load_template()
    rule = template["Resources"]["FleetFunction"]["Properties"]["Events"]["FleetEnded"]["Properties"]
    pattern = Stack(template).resolve(rule["Pattern"])
    failed = json.loads((ROOT / "events" / "fleet-execution-failed.json").read_text())

    def changed(**detail: str) -> dict[str, Any]:
        return failed | {"detail": failed["detail"] | detail}

    # Then the sample event (a fleet execution that FAILED) matches, as do one that timed out or was stopped
    assert event_matches(pattern, failed)
    assert event_matches(pattern, changed(status="TIMED_OUT")) and event_matches(pattern, changed(status="ABORTED"))
    # And a fleet that succeeded (its digest step sent the digest), or another state machine's failure, does not
    assert not event_matches(pattern, changed(status="SUCCEEDED"))
    assert not event_matches(pattern, changed(status="RUNNING"))
    training = failed["detail"]["stateMachineArn"].replace(
        ":lookout-diagnostics-fleet", ":lookout-diagnostics-training"
    )
    assert not event_matches(pattern, changed(stateMachineArn=training))
    # And what it cannot deliver ends in the dead-letter queue, which operations watch
    assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DiagnosticsDeadLetterQueue", "Arn"]}}
