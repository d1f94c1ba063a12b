"""lookout-diagnostics: summarise a diagnostics file from the command line.

    lookout-diagnostics summarise FILE_OR_S3_URI [--json] [--top-sensors N] [--max-events N]

Human-readable by default, the JSON contract with --json. Progress goes to stderr while a
large file is read from a terminal. Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from common.alerts import summary_text
from common.diagnostics import DiagnosticsSummary, summarise_stream
from common.errors import LookoutAutomationError
from common.locations import S3Location
from common.settings import SummaryThresholds, get_thresholds

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lookout-diagnostics", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    summarise = commands.add_parser("summarise", help="summarise a local file or an s3:// object")
    summarise.add_argument("target", help="a path, or s3://bucket/key")
    summarise.add_argument("--json", action="store_true", help="print the summary's JSON contract")
    summarise.add_argument("--top-sensors", type=int, help="sensors ranked (default 5)")
    summarise.add_argument("--max-events", type=int, help="events kept in the summary (default 50)")
    arguments = parser.parse_args(argv)

    progress = _progress_reporter()
    try:
        thresholds = _thresholds(arguments.top_sensors, arguments.max_events)
        summary = _summarise(arguments.target, thresholds, progress)
    except LookoutAutomationError as error:
        return _fail(f"{arguments.target}: {error}")
    except OSError as error:
        return _fail(f"{arguments.target}: {error.strerror or error}")
    except Exception as error:  # botocore's errors (credentials, access, network): one line, no traceback
        return _fail(f"{arguments.target}: {type(error).__name__}: {error}")
    finally:
        if progress:
            progress.finish()
    print(summary.model_dump_json(indent=2) if arguments.json else summary_text(summary, None))
    return 0


def _thresholds(top_sensors: int | None, max_events: int | None) -> SummaryThresholds:
    overrides = {"top_sensors": top_sensors, "max_events": max_events}
    defaults = get_thresholds()
    try:
        return SummaryThresholds.model_validate(
            defaults.model_dump() | {k: v for k, v in overrides.items() if v is not None}
        )
    except ValueError as error:
        raise SystemExit(f"lookout-diagnostics: error: {error}") from error


def _summarise(target: str, thresholds: SummaryThresholds, progress: _Progress | None) -> DiagnosticsSummary:
    if target.startswith("s3://"):
        from common.aws import s3  # boto3 only when an S3 object is asked for

        stored = s3.head(S3Location.from_uri(target))
        if progress:
            progress.total = stored.size
        with s3.open_stream(stored) as stream:
            return summarise_stream(stream, source=target, thresholds=thresholds, progress=progress)
    path = Path(target)
    if progress:
        progress.total = path.stat().st_size
    with path.open("rb") as stream:
        return summarise_stream(stream, source=target, thresholds=thresholds, progress=progress)


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
        share = f" ({done / self.total:.0%})" if self.total else ""
        self.write(f"\rread {done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB{share}")

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
