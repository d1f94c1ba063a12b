"""Step Functions adapter: how an asset's training execution went, for the fleet's digest."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from lookout_diagnostics.aws.clients import client
from lookout_diagnostics.domain.fleet import ChildExecution


def describe_execution(execution_arn: str) -> ChildExecution | None:
    """The execution, or None when there is none of that name."""
    try:
        described = client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise
    output = described.get("output")
    return ChildExecution(
        arn=execution_arn,
        status=str(described["status"]),
        started_at=described["startDate"].timestamp(),
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
    )
