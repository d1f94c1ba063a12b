"""The command line: the same summary for a local file or an s3:// object, clear errors, no tracebacks."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.generator import GeneratorSpec, GroundTruth, write_diagnostics_file
from lookout_diagnostics.cli import main
from tests.support.fake_lookout import FakeLookout
from tests.support.stack import LOOKOUT_ROLE_ARN, EmulatedStack

SPEC = GeneratorSpec(
    rows=2000, sensors=6, components=2, episodes=2, episode_points=(5, 20), machine_off_points=(10, 40)
)
ROOT = Path(__file__).resolve().parents[2]
PIPE_CAPACITY = 65_536  # what a Linux pipe holds by default
KMS_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def diagnostics(tmp_path: Path) -> tuple[Path, GroundTruth]:
    path = tmp_path / "model_diagnostics_results.json.gz"
    return path, write_diagnostics_file(path, SPEC)


def command_line(*arguments: str | bytes, **options: Any) -> subprocess.Popen[bytes]:
    """lookout-diagnostics in a process of its own, as its console script runs it."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(["src", "."])}
    return subprocess.Popen(
        [sys.executable, "-m", "lookout_diagnostics.cli", *arguments], env=environment, cwd=ROOT, **options
    )


def run_command_line(*arguments: str | bytes, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    with command_line(*arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        out, err = process.communicate(stdin)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_local_file_is_summarised_for_a_person(
    diagnostics: tuple[Path, GroundTruth], capsys: pytest.CaptureFixture[str]
) -> None:
    path, truth = diagnostics
    assert main(["summarise", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"Records:  {truth.rows:,} from" in out
    assert f"anomalous {truth.anomalous:,}" in out
    assert f"Worst events (of {len(truth.episodes)}):" in out


def test_json_flag_prints_the_contract(
    diagnostics: tuple[Path, GroundTruth], capsys: pytest.CaptureFixture[str]
) -> None:
    path, truth = diagnostics
    assert main(["summarise", str(path), "--json", "--top-sensors", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == truth.rows
    assert summary["event_count"] == len(truth.episodes)
    assert len(summary["top_sensors"]) == 2


def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.json.gz"
    path.write_bytes(gzip.compress(b'{"timestamp": "2024-01-01T00:00:00", "prediction": 0}\n{broken\n'))
    assert main(["summarise", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "line 2: not valid JSON" in captured.err
    assert "Traceback" not in captured.err


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarise", str(tmp_path / "nope.json.gz")]) == 2
    assert "No such file or directory" in capsys.readouterr().err


def test_an_s3_object_is_summarised(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    buffer = io.BytesIO()
    truth = write_diagnostics_file(buffer, SPEC)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="plant", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="plant", Key="m/model_diagnostics_results.json.gz", Body=buffer.getvalue())
    assert main(["summarise", "s3://plant/m/model_diagnostics_results.json.gz", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["anomalous"] == truth.anomalous


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://plant/missing/model_diagnostics_results.json.gz", "does not exist"),
        ("s3://plant", "needs a bucket and a key"),
    ],
)
def test_s3_problems_are_one_line(aws: None, uri: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("s3").create_bucket(Bucket="plant", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert main(["summarise", uri]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_progress_goes_to_a_terminal_on_stderr(
    diagnostics: tuple[Path, GroundTruth], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = diagnostics
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    monkeypatch.setattr("lookout_diagnostics.cli.time.monotonic", iter(range(0, 10_000, 1)).__next__)
    assert main(["summarise", str(path)]) == 0
    err = capsys.readouterr().err
    assert "read " in err
    assert "(100%)" in err


# ---- enable-diagnostics -----------------------------------------------------------------------------


@pytest.fixture
def account(lookout: FakeLookout, stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch) -> FakeLookout:
    """Two models without diagnostics output and one writing to a team's bucket; the stack's variables set
    (no customer KMS key)."""
    monkeypatch.delenv("DIAGNOSTICS_KMS_KEY_ARN", raising=False)
    lookout.add_model("pump-8")
    lookout.add_model("pump-7")
    lookout.add_model("fan-1", diagnostics_bucket="team-bucket", diagnostics_prefix="fans/")
    return lookout


def diagnostics_configurations() -> dict[str, Any]:
    """Each model's configuration as ListModels reports it (None when it has none)."""
    summaries = boto3.client("lookoutequipment").list_models()["ModelSummaries"]
    return {summary["ModelName"]: summary.get("ModelDiagnosticsOutputConfiguration") for summary in summaries}


def stack_configuration(stack: EmulatedStack, model: str) -> dict[str, Any]:
    return {"S3OutputConfiguration": {"Bucket": stack.bucket, "Prefix": f"{model}/"}}


def test_a_dry_run_lists_what_would_change_and_changes_nothing(
    account: FakeLookout, stack: EmulatedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two uncovered models and a covered one
    # When a dry run is asked for
    code = main(["enable-diagnostics", "--dry-run"])

    # Then each model gets one line saying what would happen, and no model was updated
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "already covered: fan-1 writes diagnostics to s3://team-bucket/fans/",
        f"would set pump-7 diagnostics to s3://{stack.bucket}/pump-7/ (role {LOOKOUT_ROLE_ARN})",
        f"would set pump-8 diagnostics to s3://{stack.bucket}/pump-8/ (role {LOOKOUT_ROLE_ARN})",
    ]
    configurations = diagnostics_configurations()
    assert (configurations["pump-7"], configurations["pump-8"]) == (None, None)


def test_a_run_points_every_uncovered_model_at_the_stacks_bucket(
    account: FakeLookout, stack: EmulatedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two uncovered models and a covered one, and the stack's bucket and role in the environment
    # When the command runs
    code = main(["enable-diagnostics"])

    # Then both uncovered models write to the stack's bucket under their own prefix, with the stack's role
    assert code == 0
    configurations = diagnostics_configurations()
    assert configurations["pump-7"] == stack_configuration(stack, "pump-7")
    assert configurations["pump-8"] == stack_configuration(stack, "pump-8")
    for name in ("pump-7", "pump-8"):
        assert boto3.client("lookoutequipment").describe_model(ModelName=name)["RoleArn"] == LOOKOUT_ROLE_ARN
    # and the covered model keeps its own configuration
    assert configurations["fan-1"] == {"S3OutputConfiguration": {"Bucket": "team-bucket", "Prefix": "fans/"}}
    assert f"set pump-7 diagnostics to s3://{stack.bucket}/pump-7/ (role {LOOKOUT_ROLE_ARN})" in capsys.readouterr().out


def test_model_names_restrict_the_run_and_flags_override_the_environment(
    account: FakeLookout, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two uncovered models and a covered one
    role = "arn:aws:iam::123456789012:role/team-l4e"

    # When only some names are given, one covered and one unknown, with a bucket and role of their own
    names = ["--model", "pump-7", "fan-1", "--model", "pump-9"]
    code = main(["enable-diagnostics", *names, "--bucket", "team-l4e-output", "--role-arn", role, "--json"])

    # Then only the named uncovered model changed; the others are reported, which is no error
    assert code == 0
    unset = {"kms_key_id": None, "error": None}
    assert json.loads(capsys.readouterr().out) == [
        {"model_name": "pump-7", "action": "updated", "bucket": "team-l4e-output", "prefix": "pump-7/"} | unset,
        {"model_name": "fan-1", "action": "already-covered", "bucket": "team-bucket", "prefix": "fans/"} | unset,
        {"model_name": "pump-9", "action": "unknown", "bucket": None, "prefix": None} | unset,
    ]
    configurations = diagnostics_configurations()
    assert configurations["pump-7"] == {"S3OutputConfiguration": {"Bucket": "team-l4e-output", "Prefix": "pump-7/"}}
    assert configurations["pump-8"] is None


def test_a_kms_key_from_the_environment_is_asked_for_in_every_update(
    account: FakeLookout, stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stack's customer KMS key in the environment
    monkeypatch.setenv("DIAGNOSTICS_KMS_KEY_ARN", KMS_KEY_ARN)

    # When the command runs
    code = main(["enable-diagnostics", "--model", "pump-7"])

    # Then UpdateModel asked L4E to encrypt the diagnostics with it, and the line says so
    assert code == 0
    expected = stack_configuration(stack, "pump-7") | {"KmsKeyId": KMS_KEY_ARN}
    assert diagnostics_configurations()["pump-7"] == expected
    assert capsys.readouterr().out == (
        f"set pump-7 diagnostics to s3://{stack.bucket}/pump-7/ (role {LOOKOUT_ROLE_ARN}, KMS key {KMS_KEY_ARN})\n"
    )


def test_a_dry_run_names_the_kms_key_given_and_changes_nothing(
    account: FakeLookout, stack: EmulatedStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a key in the environment, and another one given as a flag
    monkeypatch.setenv("DIAGNOSTICS_KMS_KEY_ARN", KMS_KEY_ARN)

    # When a dry run is asked for, in text and in JSON
    text_code = main(["enable-diagnostics", "--dry-run", "--model", "pump-7", "--kms-key-id", "alias/diagnostics"])
    text = capsys.readouterr().out
    json_code = main(
        ["enable-diagnostics", "--dry-run", "--model", "pump-7", "--kms-key-id", "alias/diagnostics", "--json"]
    )
    listed = json.loads(capsys.readouterr().out)

    # Then both name the flag's key, and no model was updated
    assert (text_code, json_code) == (0, 0)
    target = f"s3://{stack.bucket}/pump-7/"
    assert text == f"would set pump-7 diagnostics to {target} (role {LOOKOUT_ROLE_ARN}, KMS key alias/diagnostics)\n"
    assert [(outcome["action"], outcome["kms_key_id"]) for outcome in listed] == [("would-update", "alias/diagnostics")]
    assert diagnostics_configurations()["pump-7"] is None


def test_a_failed_update_is_reported_and_the_other_models_are_still_updated(
    account: FakeLookout, stack: EmulatedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given L4E refuses the first UpdateModel
    account.fail_next("UpdateModel", "AccessDeniedException", "The role cannot write to the bucket")

    # When the command runs
    code = main(["enable-diagnostics"])

    # Then the failure is one line on stderr, the other model was updated, and the exit code says so
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == (
        "lookout-diagnostics: error: pump-7: AccessDeniedException: The role cannot write to the bucket\n"
    )
    assert f"set pump-8 diagnostics to s3://{stack.bucket}/pump-8/" in captured.out
    assert "pump-7" not in captured.out
    configurations = diagnostics_configurations()
    assert configurations["pump-7"] is None
    assert configurations["pump-8"] == stack_configuration(stack, "pump-8")


def test_a_failed_update_is_in_the_json_list(account: FakeLookout, capsys: pytest.CaptureFixture[str]) -> None:
    # Given L4E refuses the first UpdateModel
    account.fail_next("UpdateModel", "ValidationException", "Bucket is in another region")

    # When the command runs with --json
    code = main(["enable-diagnostics", "--json", "--model", "pump-7", "pump-8"])

    # Then the list says which failed and why, and stdout stays parseable JSON
    assert code == 1
    outcomes = json.loads(capsys.readouterr().out)
    assert [(outcome["model_name"], outcome["action"]) for outcome in outcomes] == [
        ("pump-7", "failed"),
        ("pump-8", "updated"),
    ]
    assert outcomes[0]["error"] == "ValidationException: Bucket is in another region"


@pytest.mark.parametrize(
    ("environment", "arguments", "message"),
    [
        (
            {},
            [],
            "give --bucket (the stack's DiagnosticsBucketName output) or set DIAGNOSTICS_BUCKET; and give --role-arn",
        ),
        (
            {"DIAGNOSTICS_BUCKET": "stack-bucket"},
            [],
            "give --role-arn (the stack's LookoutRoleArn output) or set LOOKOUT_ROLE_ARN",
        ),
        ({"LOOKOUT_ROLE_ARN": LOOKOUT_ROLE_ARN, "DIAGNOSTICS_BUCKET": ""}, [], "give --bucket"),
        ({}, ["--bucket", "My_Bucket", "--role-arn", LOOKOUT_ROLE_ARN], "'My_Bucket' is not an S3 bucket name"),
        ({}, ["--bucket", "stack-bucket", "--role-arn", "LookoutRole"], "'LookoutRole' is not an IAM role ARN"),
        (
            {"DIAGNOSTICS_KMS_KEY_ARN": "my key"},
            ["--bucket", "stack-bucket", "--role-arn", LOOKOUT_ROLE_ARN],
            "--kms-key-id 'my key' is not a KMS key id, key ARN or alias",
        ),
    ],
    ids=["neither", "no role", "empty bucket variable", "bad bucket", "bad role", "bad KMS key"],
)
def test_without_a_usable_bucket_and_role_it_is_one_line_and_exit_code_2(
    lookout: FakeLookout,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str],
    arguments: list[str],
    message: str,
) -> None:
    # Given models to cover, but no usable bucket or role in flags or environment
    lookout.add_model("pump-7")
    for name in ("DIAGNOSTICS_BUCKET", "LOOKOUT_ROLE_ARN", "DIAGNOSTICS_KMS_KEY_ARN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    # When the command runs
    code = main(["enable-diagnostics", *arguments])

    # Then it says what to give, on one line, and the model is left as it was
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert message in captured.err
    assert diagnostics_configurations() == {"pump-7": None}


def test_an_unlistable_account_is_one_line_and_exit_code_2(
    lookout: FakeLookout, stack: EmulatedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given ListModels refused
    lookout.fail_next("ListModels", "AccessDeniedException", "not allowed to list models")

    # When the command runs
    code = main(["enable-diagnostics", "--dry-run"])

    # Then one line says so
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "cannot list models" in err
    assert "not allowed to list models" in err


def test_importing_the_command_line_does_not_import_boto3() -> None:
    # Given a fresh interpreter with the project on its path
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(["src", "."])}

    # When the command line module is imported
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, lookout_diagnostics.cli; print('boto3' in sys.modules)"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )

    # Then boto3 waits until a command needs AWS
    assert imported.stdout.strip() == "False"


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a summary whose JSON is several times what a pipe holds (400 events)
    path = tmp_path / "many-events.json.gz"
    spec = GeneratorSpec(rows=20_000, sensors=3, components=1, episodes=400, episode_points=(2, 5))
    write_diagnostics_file(path, spec)
    assert main(["summarise", str(path), "--json", "--max-events", "1000"]) == 0
    assert len(capsys.readouterr().out) > 3 * PIPE_CAPACITY

    # When the reader takes its first line and closes the pipe (`... | head -1`): the command's
    # writes cannot all fit in the pipe, so one of them meets the closed end, whenever it happens
    arguments = ["summarise", str(path), "--json", "--max-events", "1000"]
    with command_line(*arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0) as process:
        assert process.stdout is not None and process.stderr is not None
        first_line = process.stdout.readline()  # unbuffered: reads exactly one line
        process.stdout.close()
        err = process.stderr.read().decode()
    code = process.returncode

    # Then the reader had its line, nothing is said on stderr, and the exit code is 128 + SIGPIPE
    assert first_line == b"{\n"
    assert "Traceback" not in err
    assert err == ""
    assert code == 141


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux; other systems refuse these")
def test_a_file_name_that_is_not_utf8_is_summarised_and_shown_as_valid_json(
    diagnostics: tuple[Path, GroundTruth], tmp_path: Path
) -> None:
    # Given a diagnostics file (plain JSON Lines) whose name holds the byte 0xff, which is not UTF-8
    path, truth = diagnostics
    name = os.fsencode(tmp_path) + b"/diag-\xff.jsonl"
    with open(name, "wb") as renamed:
        renamed.write(gzip.decompress(path.read_bytes()))

    # When it is summarised with --json, the name given as its bytes
    completed = run_command_line("summarise", name, "--json")

    # Then the summary is valid UTF-8 JSON whose source shows the byte as \xff
    assert completed.returncode == 0, completed.stderr.decode()
    summary = json.loads(completed.stdout.decode("utf-8"))
    assert summary["source"] == f"{tmp_path}/diag-\\xff.jsonl"
    assert summary["rows"] == truth.rows


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain JSON Lines"])
def test_a_dash_reads_standard_input(diagnostics: tuple[Path, GroundTruth], compressed: bool) -> None:
    # Given a diagnostics file's bytes, gzip or plain
    path, truth = diagnostics
    data = path.read_bytes() if compressed else gzip.decompress(path.read_bytes())

    # When they are piped into `summarise -`
    completed = run_command_line("summarise", "-", "--json", stdin=data)

    # Then they are summarised as a file's would be, under the name <stdin>
    assert completed.returncode == 0, completed.stderr.decode()
    summary = json.loads(completed.stdout)
    assert summary["source"] == "<stdin>"
    assert (summary["rows"], summary["anomalous"]) == (truth.rows, truth.anomalous)


def test_empty_standard_input_is_one_line_and_exit_code_2() -> None:
    # Given nothing on standard input
    # When `summarise -` reads it
    completed = run_command_line("summarise", "-", stdin=b"")

    # Then one line names standard input and says why
    assert completed.returncode == 2
    assert completed.stdout == b""
    assert completed.stderr == b"lookout-diagnostics: error: <stdin>: the file is empty (0 bytes)\n"


def test_a_bad_option_is_one_line_and_exit_code_2(
    diagnostics: tuple[Path, GroundTruth], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = diagnostics
    assert main(["summarise", str(path), "--top-sensors", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "top_sensors: Input should be greater than or equal to 1" in err
