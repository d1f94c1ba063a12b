"""Realistic Lookout for Equipment pointwise diagnostics files, with the ground truth planted in them.

Writes `model_diagnostics_results.json.gz` in L4E's format (gzipped JSON Lines, see
docs/service-facts.md): a simulated pump whose sensors are named `component_<8 hex>\\<sensor>`, a
fixed time axis, machine-off stretches, normal operation and a few anomalous episodes. The local demo,
the tests and the throughput benchmark all use it, so it streams in constant memory and is fast: rows
are encoded with orjson and compressed with isal's igzip when they are installed (the standard library
otherwise). The output depends only on the spec: the same seed gives byte-identical files.

    python -m local.generator OUT.json.gz --rows N --sensors K --seed S
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Any, BinaryIO, Self

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

# isal's igzip accepts levels 0-3; level 1 compresses almost as well as stdlib gzip's default at
# several times its speed.
_COMPRESSLEVEL = 1

_ASCII_SENSORS = (
    "discharge_pressure",
    "suction_pressure",
    "flow_rate",
    "motor_current",
    "motor_voltage",
    "motor_power",
    "shaft_speed",
    "bearing_temperature_de",
    "bearing_temperature_nde",
    "vibration_axial",
    "vibration_horizontal",
    "vibration_vertical",
    "oil_temperature",
    "oil_pressure",
    "seal_leak_rate",
    "casing_temperature",
    "winding_temperature",
    "inlet_temperature",
    "outlet_temperature",
    "valve_position",
)
# Latin accents, a Greek letter, a micro sign, CJK and Cyrillic: what site engineers really type.
_NON_ASCII_SENSORS = (
    "température_palier",
    "Öldruck",
    "débit_refoulement",
    "Schwingung_Δ",
    "軸受温度",
    "モーター電流",
    "давление_на_входе",
    "vazão_saída",
    "presión_succión",
    "vibration_µm",
)

# Contribution of an episode's dominant sensors, strongest first, by how many there are.
_DOMINANT_WEIGHTS: dict[int, tuple[float, ...]] = {1: (1.0,), 2: (0.6, 0.4), 3: (0.5, 0.3, 0.2)}
# A normal row's contribution of sensor j is base_j * u with u uniform in [_NOISE_LOW, _NOISE_HIGH],
# normalised so that the row sums to 1.
_NOISE_LOW, _NOISE_HIGH = 0.5, 1.5
# Normal anomaly scores follow a slow AR(1) process around this mean, kept under the 0.5 threshold.
_NORMAL_SCORE_MEAN, _NORMAL_SCORE_MAX, _SCORE_PERSISTENCE, _SCORE_NOISE = 0.15, 0.4999, 0.98, 0.05
_ANOMALY_SCORE_MIN = 0.5001
_SCORE_DECIMALS = 4

Range = tuple[PositiveInt, PositiveInt]


class GeneratorSpec(BaseModel):
    """What to simulate. The defaults are the demo: two weeks at one-minute resolution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: PositiveInt = 20_160
    sensors: Annotated[int, Field(ge=1, le=1000)] = 12
    components: PositiveInt = 4
    interval_seconds: PositiveInt = 60
    start: datetime = datetime(2024, 1, 1)
    episodes: Annotated[int, Field(ge=0)] = 3
    episode_points: Range = (10, 120)
    machine_off_stretches: Annotated[int, Field(ge=0)] = 2
    machine_off_points: Range = (60, 480)
    seed: int = 0
    non_ascii: bool = False
    # The sensors' names, one per sensor, instead of generated `component_<hex>\<sensor>` names: e.g.
    # AWS IoT SiteWise's `<asset id>\<property id>`.
    sensor_names: tuple[str, ...] | None = None

    @field_validator("start")
    @classmethod
    def _naive_utc(cls, start: datetime) -> datetime:
        """L4E timestamps carry no zone: an aware start is taken as the UTC instant it names."""
        return start if start.tzinfo is None else start.astimezone(UTC).replace(tzinfo=None)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name, (low, high) in (
            ("episode_points", self.episode_points),
            ("machine_off_points", self.machine_off_points),
        ):
            if low > high:
                raise ValueError(f"{name}: {low} > {high}")
        if self.components > self.sensors:
            raise ValueError(f"{self.components} components need at least as many sensors")
        if self.sensor_names is not None and len(set(self.sensor_names)) != self.sensors:
            raise ValueError(f"sensor_names must be {self.sensors} distinct names")
        stretches = self.episodes + self.machine_off_stretches
        # Every planted stretch is surrounded by at least one normal row.
        needed = self.episodes * self.episode_points[1] + self.machine_off_stretches * self.machine_off_points[1]
        if needed + stretches + 1 > self.rows:
            raise ValueError(f"{self.rows} rows cannot hold the planted stretches (up to {needed + stretches + 1})")
        return self


# L4E's evaluation cap (1.5 million rows), about 2.9 years at one-minute resolution.
_BENCHMARK = GeneratorSpec(
    rows=1_500_000,
    sensors=30,
    components=6,
    episodes=12,
    episode_points=(10, 240),
    machine_off_stretches=10,
    machine_off_points=(60, 1440),
)
PRESETS: dict[str, GeneratorSpec] = {
    "demo": GeneratorSpec(),
    "benchmark": _BENCHMARK,
    # The same asset with 100 sensors: L4E's largest files.
    "benchmark-wide": GeneratorSpec.model_validate(_BENCHMARK.model_dump() | {"sensors": 100, "components": 10}),
}


class PlantedEpisode(BaseModel):
    """One anomalous episode as written: a maximal run of rows with prediction 1."""

    model_config = ConfigDict(frozen=True)

    start: str
    end: str
    points: int
    max_anomaly_score: float
    dominant_sensors: tuple[str, ...]
    """The sensors that dominate every row's diagnostics, strongest first."""


class GroundTruth(BaseModel):
    """What the generator wrote, recorded while writing."""

    model_config = ConfigDict(frozen=True)

    rows: int
    normal: int
    anomalous: int
    machine_off: int
    first_timestamp: str
    last_timestamp: str
    sensors: tuple[str, ...]
    episodes: tuple[PlantedEpisode, ...]
    uncompressed_bytes: int


def write_diagnostics_file(
    target: str | os.PathLike[str] | BinaryIO, spec: GeneratorSpec, *, compressed: bool = True
) -> GroundTruth:
    """Write a diagnostics file to a path or to a binary stream (left open) and return its ground truth:
    gzip (L4E's form), or plain JSON Lines with `compressed=False` (AWS IoT SiteWise's documented form)."""
    with ExitStack() as stack:
        raw = stack.enter_context(open(target, "wb")) if isinstance(target, str | os.PathLike) else target
        # GzipFile buffers its input itself (since Python 3.12): rows are compressed in blocks.
        return _Simulation(spec).write(stack.enter_context(_gzip_writer(raw)) if compressed else raw)


def _gzip_writer(raw: BinaryIO) -> gzip.GzipFile:
    # No file name and a zero mtime in the header: the bytes depend on the spec alone.
    try:
        from isal import igzip
    except ImportError:
        return gzip.GzipFile(filename="", mode="wb", compresslevel=_COMPRESSLEVEL, fileobj=raw, mtime=0)
    return igzip.IGzipFile(filename="", mode="wb", compresslevel=_COMPRESSLEVEL, fileobj=raw, mtime=0)


def _line_encoder() -> Callable[[dict[str, Any]], bytes]:
    try:
        import orjson
    except ImportError:
        return lambda record: (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    return lambda record: orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


@dataclass(frozen=True, slots=True)
class _Normal:
    points: int


@dataclass(frozen=True, slots=True)
class _MachineOff:
    points: int


@dataclass(frozen=True, slots=True)
class _Episode:
    points: int
    peak_score: float
    dominant: tuple[int, ...]
    """Sensor indices, strongest first."""
    share_low: float
    share_high: float
    """The dominant sensors' total share of a row's diagnostics, at the episode's edges and at its peak."""


class _Simulation:
    """One pass over the time axis, writing each row as it is made."""

    def __init__(self, spec: GeneratorSpec) -> None:
        self._spec = spec
        self._rng = random.Random(spec.seed)
        self._names = _sensor_names(spec, self._rng)
        # Each sensor's typical share of a normal row, and the bounds of its noisy raw contribution.
        base = [0.2 + self._rng.random() for _ in self._names]
        self._contribution = [(b * _NOISE_LOW, b * (_NOISE_HIGH - _NOISE_LOW)) for b in base]
        self._max_normal_share = max(b * _NOISE_HIGH / (b * _NOISE_HIGH + _NOISE_LOW * (sum(base) - b)) for b in base)
        self._score = _NORMAL_SCORE_MEAN
        self._encode = _line_encoder()

    def write(self, out: BinaryIO | gzip.GzipFile) -> GroundTruth:
        counts = {"normal": 0, "anomalous": 0, "machine_off": 0}
        episodes: list[PlantedEpisode] = []
        clock = _Clock(self._spec.start, self._spec.interval_seconds)
        first_timestamp = clock.peek()
        written = 0
        for stretch in self._plan():
            match stretch:
                case _Normal(points):
                    written += sum(map(out.write, self._normal_rows(clock.take(points))))
                    counts["normal"] += points
                case _MachineOff(points):
                    written += sum(map(out.write, self._machine_off_rows(clock.take(points))))
                    counts["machine_off"] += points
                case _Episode():
                    first = clock.peek()
                    max_score = 0.0
                    for line, score in self._episode_rows(stretch, clock.take(stretch.points)):
                        written += out.write(line)
                        max_score = max(max_score, score)
                    episodes.append(
                        PlantedEpisode(
                            start=first,
                            end=clock.last,
                            points=stretch.points,
                            max_anomaly_score=max_score,
                            dominant_sensors=tuple(self._names[i] for i in stretch.dominant),
                        )
                    )
                    counts["anomalous"] += stretch.points
        return GroundTruth(
            rows=sum(counts.values()),
            first_timestamp=first_timestamp,
            last_timestamp=clock.last,
            sensors=tuple(self._names),
            episodes=tuple(episodes),
            uncompressed_bytes=written,
            **counts,
        )

    def _plan(self) -> list[_Normal | _MachineOff | _Episode]:
        """Place the episodes and machine-off stretches at random, with normal rows between and around."""
        spec, rng = self._spec, self._rng
        planted: list[_MachineOff | _Episode] = [
            _MachineOff(rng.randint(*spec.machine_off_points)) for _ in range(spec.machine_off_stretches)
        ]
        planted += [self._new_episode() for _ in range(spec.episodes)]
        rng.shuffle(planted)
        # Split the rows left over into len(planted) + 1 normal stretches of at least one row each.
        spare = spec.rows - sum(p.points for p in planted) - (len(planted) + 1)
        cuts = sorted(rng.sample(range(spare + len(planted)), len(planted)))
        bounds = [-1, *cuts, spare + len(planted)]
        gaps = [high - low for low, high in pairwise(bounds)]
        plan: list[_Normal | _MachineOff | _Episode] = [_Normal(gaps[0])]
        for stretch, gap in zip(planted, gaps[1:], strict=True):
            plan += [stretch, _Normal(gap)]
        return plan

    def _new_episode(self) -> _Episode:
        rng = self._rng
        dominant = tuple(rng.sample(range(len(self._names)), rng.randint(1, min(3, len(self._names)))))
        weights = _DOMINANT_WEIGHTS[len(dominant)]
        # A row's value for dominant sensor i is share * weights[i] + (1 - share) * (its normal share).
        # With share above this bound, the dominant sensors keep their order and outweigh every other
        # sensor in every row, so the ground truth's order is unambiguous.
        margin = min([weights[-1], *(stronger - weaker for stronger, weaker in pairwise(weights))])
        share_low = max(0.55, self._max_normal_share / (margin + self._max_normal_share) + 0.05)
        return _Episode(
            points=rng.randint(*self._spec.episode_points),
            peak_score=rng.uniform(0.7, 1.0),
            dominant=dominant,
            share_low=share_low,
            share_high=min(0.98, share_low + rng.uniform(0.1, 0.3)),
        )

    def _raw_contributions(self) -> list[float]:
        uniform = self._rng.random
        return [low + span * uniform() for low, span in self._contribution]

    def _normal_rows(self, timestamps: Iterator[str]) -> Iterator[bytes]:
        uniform, names, encode = self._rng.random, self._names, self._encode
        for timestamp in timestamps:
            self._score = min(
                _NORMAL_SCORE_MAX,
                max(
                    0.0,
                    _NORMAL_SCORE_MEAN
                    + _SCORE_PERSISTENCE * (self._score - _NORMAL_SCORE_MEAN)
                    + _SCORE_NOISE * (uniform() - 0.5),
                ),
            )
            raw = self._raw_contributions()
            scale = 1.0 / sum(raw)
            yield encode(
                {
                    "timestamp": timestamp,
                    "prediction": 0,
                    "prediction_reason": "NO_ANOMALY_DETECTED",
                    "anomaly_score": round(self._score, _SCORE_DECIMALS),
                    "diagnostics": [{"name": n, "value": v * scale} for n, v in zip(names, raw, strict=True)],
                }
            )

    def _machine_off_rows(self, timestamps: Iterator[str]) -> Iterator[bytes]:
        encode = self._encode
        for timestamp in timestamps:
            yield encode({"timestamp": timestamp, "prediction": 0, "prediction_reason": "MACHINE_OFF"})

    def _episode_rows(self, episode: _Episode, timestamps: Iterator[str]) -> Iterator[tuple[bytes, float]]:
        uniform, names, encode = self._rng.random, self._names, self._encode
        dominant_weight = [0.0] * len(names)
        for index, weight in zip(episode.dominant, _DOMINANT_WEIGHTS[len(episode.dominant)], strict=True):
            dominant_weight[index] = weight
        for point, timestamp in enumerate(timestamps):
            # Rises to the peak mid-episode and falls back, with some jitter.
            hump = math.sin(math.pi * (point + 0.5) / episode.points)
            score = 0.5 + (episode.peak_score - 0.5) * (0.3 + 0.7 * hump) + 0.04 * (uniform() - 0.5)
            score = round(min(1.0, max(_ANOMALY_SCORE_MIN, score)), _SCORE_DECIMALS)
            share = episode.share_low + (episode.share_high - episode.share_low) * hump
            raw = self._raw_contributions()
            scale = (1.0 - share) / sum(raw)
            diagnostics = [
                {"name": n, "value": v * scale + share * w} for n, v, w in zip(names, raw, dominant_weight, strict=True)
            ]
            line = encode(
                {
                    "timestamp": timestamp,
                    "prediction": 1,
                    "prediction_reason": "ANOMALY_DETECTED",
                    "anomaly_score": score,
                    "diagnostics": diagnostics,
                }
            )
            yield line, score


class _Clock:
    """The time axis: hands out consecutive L4E timestamps."""

    def __init__(self, start: datetime, interval_seconds: int) -> None:
        self._next = start
        self._step = timedelta(seconds=interval_seconds)
        self.last = ""

    def peek(self) -> str:
        return _format_timestamp(self._next)

    def take(self, points: int) -> Iterator[str]:
        for _ in range(points):
            self.last = _format_timestamp(self._next)
            self._next += self._step
            yield self.last


def _format_timestamp(moment: datetime) -> str:
    """L4E's format: `2021-03-11T22:25:00.000000`, microseconds, no zone."""
    return moment.isoformat(timespec="microseconds")


def _sensor_names(spec: GeneratorSpec, rng: random.Random) -> list[str]:
    """`component_<8 hex>\\<sensor>`: sensors in contiguous groups per component, all names distinct
    (or the spec's own names)."""
    components = [f"component_{value:08x}" for value in rng.sample(range(2**32), spec.components)]
    if spec.sensor_names is not None:
        return list(spec.sensor_names)
    vocabularies = (_ASCII_SENSORS, _NON_ASCII_SENSORS) if spec.non_ascii else (_ASCII_SENSORS,)
    names = []
    for index in range(spec.sensors):
        # With non-ASCII names, every other sensor takes one.
        vocabulary = vocabularies[index % len(vocabularies)]
        rank = index // len(vocabularies)
        sensor = vocabulary[rank % len(vocabulary)]
        if rank >= len(vocabulary):
            sensor = f"{sensor}_{rank // len(vocabulary) + 1}"
        names.append(f"{components[index * spec.components // spec.sensors]}\\{sensor}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Write a file, print its ground truth as JSON on stdout and the throughput on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m local.generator", description="Write a realistic L4E diagnostics file."
    )
    parser.add_argument("out", help="the file to write, e.g. model_diagnostics_results.json.gz")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--sensors", type=int)
    parser.add_argument("--components", type=int)
    parser.add_argument("--interval-seconds", type=int)
    parser.add_argument("--start", type=datetime.fromisoformat)
    parser.add_argument("--episodes", type=int)
    parser.add_argument("--machine-off-stretches", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--non-ascii", action="store_true", default=None)
    args = vars(parser.parse_args(argv))
    out, preset = args.pop("out"), PRESETS[args.pop("preset")]
    overrides = {key: value for key, value in args.items() if value is not None}
    spec = GeneratorSpec.model_validate({**preset.model_dump(), **overrides})

    started = time.perf_counter()
    truth = write_diagnostics_file(out, spec)
    elapsed = time.perf_counter() - started
    print(truth.model_dump_json(indent=2))
    print(
        f"{truth.rows} rows x {spec.sensors} sensors in {elapsed:.2f} s: {truth.rows / elapsed:,.0f} rows/s, "
        f"{truth.uncompressed_bytes / elapsed / 1e6:.1f} MB/s uncompressed "
        f"({truth.uncompressed_bytes / 1e6:.1f} MB -> {os.path.getsize(out) / 1e6:.1f} MB gzip)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
