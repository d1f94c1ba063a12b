"""lookout-diagnostics: summarise diagnostics files, and make models write them, from the command line.

    lookout-diagnostics summarise FILE_OR_S3_URI_OR_- [--json] [--top-sensors N] [--max-events N]
                                  [--chart FILE.png]
    lookout-diagnostics enable-diagnostics [--model NAME ...] [--bucket BUCKET] [--role-arn ARN]
                                           [--kms-key-id KEY] [--dry-run] [--json]

Human-readable by default, JSON with --json. Progress goes to stderr while a large file is read
from a terminal. Bad input ends with one line on stderr and exit code 2; enable-diagnostics exits
with 1 when UpdateModel failed for some model (each failure is one line on stderr).

summarise reads standard input when FILE is "-" (gzip or plain JSON Lines, told apart by their
first bytes as for a file; name a file called "-" as "./-"); the summary's source is then "<stdin>".
A file name that is not valid UTF-8 is opened as given and shown (in text, in the JSON's source
field and in messages) with each byte that is not UTF-8 written as \\xNN, so the output stays
valid UTF-8 and valid JSON.

When stdout is closed before the output is written (`lookout-diagnostics summarise FILE | head -1`),
the command stops quietly, without a traceback, and exits with 141 (128 + SIGPIPE), the status a
shell reports for a program killed by SIGPIPE: with `set -o pipefail` a cut-off output stays visible.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from lookout_diagnostics.domain.alerts import summary_text
from lookout_diagnostics.domain.coverage import CoverageChange, coverage_change, uncovered
from lookout_diagnostics.domain.identity import ModelSummary
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.summary import DiagnosticsSummary, summarise_stream
from lookout_diagnostics.domain.training import BUCKET_PATTERN, KMS_KEY_PATTERN, ROLE_PATTERN
from lookout_diagnostics.errors import InvalidOptionError, LookoutAutomationError, LookoutRequestError
from lookout_diagnostics.models import Model
from lookout_diagnostics.settings import SummaryThresholds, get_stack_defaults, get_thresholds

if TYPE_CHECKING:
    from lookout_diagnostics.aws.lookout import LookoutClient

EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE (13)

STDIN = "-"
STDIN_SOURCE = "<stdin>"

# The service model's patterns (domain.training): a mistyped flag is one line and exit 2 here rather than a
# ValidationException for every model.
_BUCKET_PATTERN = re.compile(BUCKET_PATTERN)
_ROLE_ARN_PATTERN = re.compile(ROLE_PATTERN)
_KMS_KEY_PATTERN = re.compile(KMS_KEY_PATTERN)

ENABLE_DIAGNOSTICS_EPILOG = """\
Lists the account's models and gives each one without a ModelDiagnosticsOutputConfiguration
(or each --model NAME) the stack's bucket, under the prefix "<model>/", with UpdateModel.
UpdateModel only affects versions trained afterwards: existing versions keep what they had.

--bucket defaults to $DIAGNOSTICS_BUCKET and --role-arn to $LOOKOUT_ROLE_ARN; take them from the
stack's outputs DiagnosticsBucketName and LookoutRoleArn, e.g.
  aws cloudformation describe-stacks --stack-name STACK \\
    --query "Stacks[0].Outputs[?OutputKey=='DiagnosticsBucketName'].OutputValue" --output text

--kms-key-id (default $DIAGNOSTICS_KMS_KEY_ARN) names the customer KMS key L4E encrypts the
diagnostics files with (KmsKeyId of ModelDiagnosticsOutputConfiguration): a key id, key ARN or
alias. Without one, L4E encrypts them with a key it owns. The role must be allowed to use the key.

Exit codes: 0 done (names that are unknown or already covered are reported, not errors),
1 UpdateModel failed for some model (the others were still updated), 2 bad input or no listing.
"""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            arguments = _parser().parse_args(argv)
            if arguments.command == "enable-diagnostics":
                return _enable_diagnostics(arguments)
            return _summarise_command(arguments)
        finally:  # what is still buffered, so that a closed pipe shows here and not at interpreter exit
            sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _discard_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's last flush then writes nowhere instead of failing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lookout-diagnostics", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    summarise = commands.add_parser("summarise", help="summarise a local file or an s3:// object")
    summarise.add_argument("target", help="a path, s3://bucket/key, or - for standard input")
    summarise.add_argument("--json", action="store_true", help="print the summary's JSON contract")
    summarise.add_argument("--top-sensors", type=int, help="sensors ranked (default 5)")
    summarise.add_argument("--max-events", type=int, help="events kept in the summary (default 50)")
    summarise.add_argument("--chart", metavar="FILE.png", help="also draw the summary's chart (PNG) into FILE.png")
    enable = commands.add_parser(
        "enable-diagnostics",
        help="make models without diagnostics output write it to the stack's bucket",
        description="Make models without a diagnostics output configuration write one to the stack's bucket.",
        epilog=ENABLE_DIAGNOSTICS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    enable.add_argument(
        "--model", dest="models", metavar="NAME", nargs="+", action="extend", help="only these models (repeatable)"
    )
    enable.add_argument(
        "--bucket", help="diagnostics bucket (default $DIAGNOSTICS_BUCKET: output DiagnosticsBucketName)"
    )
    enable.add_argument("--role-arn", help="role L4E writes with (default $LOOKOUT_ROLE_ARN: output LookoutRoleArn)")
    enable.add_argument(
        "--kms-key-id",
        metavar="KEY",
        help="KMS key (id, ARN or alias) L4E encrypts the diagnostics with (default $DIAGNOSTICS_KMS_KEY_ARN)",
    )
    enable.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    enable.add_argument("--json", action="store_true", help="print a JSON list of what happened to each model")
    return parser


def _summarise_command(arguments: argparse.Namespace) -> int:
    progress = _progress_reporter()
    source = _source_name(arguments.target)
    try:
        thresholds = _thresholds(arguments.top_sensors, arguments.max_events)
        summary = _summarise(arguments.target, source, thresholds, progress)
    except LookoutAutomationError as error:
        return _fail(f"{source}: {error}")
    except OSError as error:
        return _fail(f"{source}: {error.strerror or error}")
    except Exception as error:  # botocore's errors (credentials, access, network): one line, no traceback
        return _fail(f"{source}: {type(error).__name__}: {error}")
    finally:
        if progress:
            progress.finish()
    print(summary.model_dump_json(indent=2) if arguments.json else summary_text(summary, None))
    if arguments.chart:
        return _write_chart(arguments.chart, summary, source)
    return 0


def _write_chart(path: str, summary: DiagnosticsSummary, source: str) -> int:
    """The chart drawn first, then written: a chart that cannot be drawn leaves no empty file. After the
    summary was printed, a chart that fails is one line on stderr and exit code 1."""
    from lookout_diagnostics.domain.chart import draw_chart

    try:
        png = draw_chart(summary, f"{source}: {summary.severity.value}")
        with open(path, "wb") as chart:
            chart.write(png)
    except OSError as error:
        print(f"lookout-diagnostics: error: {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    except Exception as error:
        print(
            f"lookout-diagnostics: error: {path}: the chart could not be drawn: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 1
    print(f"Chart: {path}", file=sys.stderr)
    return 0


# ---- enable-diagnostics ---------------------------------------------------------------------------

CoverageAction = Literal["would-update", "updated", "failed", "already-covered", "unknown"]


class CoverageOutcome(Model):
    """What enable-diagnostics did about one model (one item of its --json output)."""

    model_name: str
    action: CoverageAction
    bucket: str | None = None
    prefix: str | None = None
    kms_key_id: str | None = None  # the key asked for (None for models left as they are)
    error: str | None = None


def _enable_diagnostics(arguments: argparse.Namespace) -> int:
    defaults = get_stack_defaults()
    bucket: str | None = arguments.bucket or defaults.diagnostics_bucket
    role_arn: str | None = arguments.role_arn or defaults.lookout_role_arn
    kms_key_id: str | None = arguments.kms_key_id or defaults.diagnostics_kms_key_arn
    if bucket is None or role_arn is None:
        return _fail(_missing_target(bucket, role_arn))
    problem = _target_problem(bucket, role_arn, kms_key_id)
    if problem is not None:
        return _fail(problem)

    from lookout_diagnostics.aws.lookout import LookoutClient  # boto3 only when L4E is asked

    lookout = LookoutClient()
    try:
        models = lookout.list_models()
    except Exception as error:  # botocore's errors (credentials, access, network): one line, no traceback
        return _fail(f"cannot list models: {type(error).__name__}: {error}")

    outcomes: list[CoverageOutcome] = []
    for planned in _coverage_plan(models, arguments.models, bucket, role_arn, kms_key_id):
        outcome = (
            _apply(lookout, planned, dry_run=arguments.dry_run) if isinstance(planned, CoverageChange) else planned
        )
        outcomes.append(outcome)
        if outcome.action == "failed":
            print(f"lookout-diagnostics: error: {outcome.model_name}: {outcome.error}", file=sys.stderr)
        elif not arguments.json:
            print(_describe(outcome, role_arn))
    if arguments.json:
        print(json.dumps([outcome.model_dump() for outcome in outcomes], indent=2))
    return EXIT_SOME_FAILED if any(outcome.action == "failed" for outcome in outcomes) else 0


def _missing_target(bucket: str | None, role_arn: str | None) -> str:
    missing = [
        f"{flag} (the stack's {output} output) or set {variable}"
        for flag, output, variable, value in (
            ("--bucket", "DiagnosticsBucketName", "DIAGNOSTICS_BUCKET", bucket),
            ("--role-arn", "LookoutRoleArn", "LOOKOUT_ROLE_ARN", role_arn),
        )
        if value is None
    ]
    return f"enable-diagnostics needs a target: give {'; and give '.join(missing)}"


def _target_problem(bucket: str, role_arn: str, kms_key_id: str | None) -> str | None:
    if not _BUCKET_PATTERN.search(bucket):
        return f"--bucket {bucket!r} is not an S3 bucket name"
    if not _ROLE_ARN_PATTERN.search(role_arn):
        return f"--role-arn {role_arn!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
    if kms_key_id is not None and not _KMS_KEY_PATTERN.search(kms_key_id):
        return f"--kms-key-id {kms_key_id!r} is not a KMS key id, key ARN or alias"
    return None


def _coverage_plan(
    models: list[ModelSummary], names: list[str] | None, bucket: str, role_arn: str, kms_key_id: str | None
) -> list[CoverageOutcome | CoverageChange]:
    """In name order (or the order of --model): the change each uncovered model needs, or why none."""
    by_name = {model.name: model for model in models}
    needing = {model.name for model in uncovered(models)}
    plan: list[CoverageOutcome | CoverageChange] = []
    for name in dict.fromkeys(names) if names else sorted(by_name):
        model = by_name.get(name)
        if model is None:
            plan.append(CoverageOutcome(model_name=name, action="unknown"))
        elif name in needing:
            plan.append(coverage_change(model, bucket, role_arn, kms_key_id=kms_key_id))
        else:
            output = model.diagnostics_output
            plan.append(
                CoverageOutcome(
                    model_name=name,
                    action="already-covered",
                    bucket=output.bucket if output else None,
                    prefix=output.prefix if output else None,
                )
            )
    return plan


def _apply(lookout: LookoutClient, change: CoverageChange, *, dry_run: bool) -> CoverageOutcome:
    from botocore.exceptions import BotoCoreError  # the network's errors; L4E's refusals come typed

    outcome = CoverageOutcome(
        model_name=change.model_name,
        action="would-update",
        bucket=change.bucket,
        prefix=change.prefix,
        kms_key_id=change.kms_key_id,
    )
    if dry_run:
        return outcome
    try:
        lookout.update_model(change.request())
    except LookoutRequestError as error:  # its message is L4E's code and message
        return outcome.model_copy(update={"action": "failed", "error": str(error)})
    except BotoCoreError as error:
        return outcome.model_copy(update={"action": "failed", "error": f"{type(error).__name__}: {error}"})
    return outcome.model_copy(update={"action": "updated"})


def _describe(outcome: CoverageOutcome, role_arn: str) -> str:
    target = f"s3://{outcome.bucket}/{outcome.prefix}"
    using = f"role {role_arn}" + (f", KMS key {outcome.kms_key_id}" if outcome.kms_key_id else "")
    match outcome.action:
        case "would-update":
            return f"would set {outcome.model_name} diagnostics to {target} ({using})"
        case "updated":
            return f"set {outcome.model_name} diagnostics to {target} ({using})"
        case "already-covered":
            return f"already covered: {outcome.model_name} writes diagnostics to {target}"
        case "unknown":
            return f"unknown model: {outcome.model_name} (not in this account and region)"
        case "failed":
            return f"failed: {outcome.model_name}: {outcome.error}"


# ---- summarise ------------------------------------------------------------------------------------


def _thresholds(top_sensors: int | None, max_events: int | None) -> SummaryThresholds:
    overrides = {"top_sensors": top_sensors, "max_events": max_events}
    defaults = get_thresholds()
    try:
        return SummaryThresholds.model_validate(
            defaults.model_dump() | {k: v for k, v in overrides.items() if v is not None}
        )
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "options"
        raise InvalidOptionError(f"{where}: {problem['msg']}") from error


def _source_name(target: str) -> str:
    """The target as the summary and messages name it: always valid UTF-8.

    argv decodes a file name's bytes that are not UTF-8 to lone surrogates (PEP 383), which neither
    JSON nor a UTF-8 stdout can carry; they are written as \\xNN here. The file is opened by `target`.
    """
    if target == STDIN:
        return STDIN_SOURCE
    return os.fsencode(target).decode("utf-8", "backslashreplace")


def _summarise(
    target: str, source: str, thresholds: SummaryThresholds, progress: _Progress | None
) -> DiagnosticsSummary:
    if target.startswith("s3://"):
        from lookout_diagnostics.aws import s3  # boto3 only when an S3 object is asked for

        stored = s3.head(S3Location.from_uri(target))
        if progress:
            progress.total = stored.size
        with s3.open_stream(stored) as stream:
            return summarise_stream(stream, source=source, thresholds=thresholds, progress=progress)
    if target == STDIN:  # its size is unknown: progress shows what was read
        return summarise_stream(sys.stdin.buffer, source=source, thresholds=thresholds, progress=progress)
    path = Path(target)
    if progress:
        progress.total = path.stat().st_size
    with path.open("rb") as stream:
        return summarise_stream(stream, source=source, thresholds=thresholds, progress=progress)


class _Progress:
    """Prints how much of the stored file has been read, at most twice a second."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self.write = write
        self.total = 0
        self.shown = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.5:
            return
        self.shown = now
        if self.total:
            self.write(f"\rread {done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB ({done / self.total:.0%})")
        else:
            self.write(f"\rread {done / 1e6:,.1f} MB")

    def finish(self) -> None:
        if self.shown:
            self.write("\r\033[K")


def _progress_reporter() -> _Progress | None:
    return _Progress(sys.stderr.write) if sys.stderr.isatty() else None


def _fail(message: str) -> int:
    print(f"lookout-diagnostics: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
