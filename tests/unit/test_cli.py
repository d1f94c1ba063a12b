"""The command line: the same summary for a local file or an s3:// object, clear errors, no tracebacks."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import boto3
import pytest

from cli import main
from local.generator import GeneratorSpec, GroundTruth, write_diagnostics_file

SPEC = GeneratorSpec(
    rows=2000, sensors=6, components=2, episodes=2, episode_points=(5, 20), machine_off_points=(10, 40)
)


@pytest.fixture
def diagnostics(tmp_path: Path) -> tuple[Path, GroundTruth]:
    path = tmp_path / "model_diagnostics_results.json.gz"
    return path, write_diagnostics_file(path, SPEC)


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
    monkeypatch.setattr("cli.time.monotonic", iter(range(0, 10_000, 1)).__next__)
    assert main(["summarise", str(path)]) == 0
    err = capsys.readouterr().err
    assert "read " in err
    assert "(100%)" in err
