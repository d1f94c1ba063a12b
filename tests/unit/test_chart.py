"""The chart of a summary: a PNG of the expected size, not blank, for the files a person meets (a file with
anomalies, one without, one with 2,000 events, one with the machine off throughout), from the command line too."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest

from local.generator import PRESETS, GeneratorSpec, write_diagnostics_file
from lookout_diagnostics.cli import main
from lookout_diagnostics.domain.chart import DPI, HEIGHT_INCHES, WIDTH_INCHES, draw_chart
from lookout_diagnostics.domain.summary import DiagnosticsSummary, summarise_stream
from lookout_diagnostics.settings import SummaryThresholds

SIZE = (int(WIDTH_INCHES * DPI), int(HEIGHT_INCHES * DPI))


def summarised(data: bytes, source: str = "f.json.gz") -> DiagnosticsSummary:
    return summarise_stream(io.BytesIO(data), source=source, thresholds=SummaryThresholds())


def generated(spec: GeneratorSpec) -> bytes:
    buffer = io.BytesIO()
    write_diagnostics_file(buffer, spec)
    return buffer.getvalue()


def machine_off_only() -> bytes:
    lines = [
        json.dumps({"timestamp": f"2024-02-0{1 + i // 1440}T{(i // 60) % 24:02d}:{i % 60:02d}:00", "prediction": 0,
                    "prediction_reason": "MACHINE_OFF"})
        for i in range(3 * 1440)
    ]  # fmt: skip
    return "\n".join(lines).encode()


FILES = {
    "anomalies": lambda: summarised(generated(PRESETS["demo"])),
    "none": lambda: summarised(generated(GeneratorSpec(rows=5000, sensors=6, components=2, episodes=0, seed=4))),
    "2000-events": lambda: summarised(
        generated(GeneratorSpec(rows=60_000, sensors=8, components=2, episodes=2000, episode_points=(2, 8), seed=9))
    ),
    "machine-off": lambda: summarised(machine_off_only(), "off.jsonl"),
}


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    return width, height


def distinct_colours(png: bytes) -> int:
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")
    return len({tuple(pixel) for row in pixels[::7] for pixel in row[::7]})


@pytest.mark.parametrize("name", FILES)
def test_every_kind_of_file_gets_a_chart_of_the_expected_size_that_is_not_blank(name: str) -> None:
    # Given the summary of a file of this kind
    summary = FILES[name]()
    # When its chart is drawn
    png = draw_chart(summary, f"pump-7 v1: {summary.severity.value}")
    # Then it is a PNG of 1100 x 600 pixels with a drawing on it (text, lines, shading: many colours)
    assert png_size(png) == SIZE
    assert distinct_colours(png) > 20


def test_a_summary_without_a_timeline_still_gets_a_chart() -> None:
    # Given a version 1 summary (stored before the timeline)
    summary = FILES["anomalies"]().model_copy(update={"timeline": None, "summary_version": 1})
    # Then its chart is drawn from what it has
    assert png_size(draw_chart(summary, "old summary")) == SIZE


def test_the_command_line_draws_the_chart_it_is_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a diagnostics file on disk
    source = tmp_path / "model_diagnostics_results.json.gz"
    source.write_bytes(generated(PRESETS["demo"]))
    chart = tmp_path / "chart.png"
    # When it is summarised with --chart
    assert main(["summarise", str(source), "--chart", str(chart)]) == 0
    # Then the chart is there, and stderr says where
    assert png_size(chart.read_bytes()) == SIZE
    assert f"Chart: {chart}" in capsys.readouterr().err


def test_names_with_dollars_and_files_at_the_calendars_ends_are_drawn() -> None:
    # Given a summary whose sensor and model names hold "$" (mathtext to matplotlib) and whose records lie at
    # year 1 and year 9999
    lines = [
        json.dumps({"timestamp": stamp, "prediction": 1, "anomaly_score": 0.9,
                    "diagnostics": [{"name": "pump\\\\cost_$x^$", "value": 0.7}]})
        for stamp in ("0001-01-01T00:00:00", "0001-01-01T00:00:05", "9999-12-31T23:59:59")
    ]  # fmt: skip
    summary = summarised("\n".join(lines).encode(), "edges.jsonl")
    # When its chart is drawn, Then it is a chart, not an error
    assert png_size(draw_chart(summary, "model $a^$ v1")) == SIZE


def test_a_chart_that_cannot_be_drawn_leaves_the_summary_printed_and_no_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lookout_diagnostics.domain import chart

    def broken(*_: object) -> bytes:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(chart, "draw_chart", broken)
    source = tmp_path / "model_diagnostics_results.json.gz"
    source.write_bytes(generated(PRESETS["demo"]))
    target = tmp_path / "chart.png"
    assert main(["summarise", str(source), "--chart", str(target)]) == 1
    printed = capsys.readouterr()
    assert "diagnostics: CRITICAL" in printed.out and not target.exists()
    assert (
        printed.err.strip()
        == f"lookout-diagnostics: error: {target}: the chart could not be drawn: RuntimeError: no fonts"
    )
