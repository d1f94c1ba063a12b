"""checkov's security scan of template.yaml: part of `make validate`, offline, with every accepted finding explained.

checkov (installed into .venv-checkov by the Makefile, apart from the SAM CLI whose pins conflict with its own)
reads the template with its Globals and reports each check per resource. A finding the project accepts is
skipped in that resource's `Metadata: checkov: skip:` with the reason beside it; these tests hold the reasons
to a standard, run checkov as `make validate` does, and check that each skip silences a real finding.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.template import ROOT, TEMPLATE, fresh_template
from tests.support.tools import CHECKOV, installed

MAKEFILE = ROOT / "Makefile"
# What `make validate` runs, and the environment that keeps checkov off the network: --skip-download
# fetches no policies or guidelines, CKV_SKIP_PACKAGE_UPDATE_CHECK stops its newer-version look-up.
OFFLINE_FLAGS = ["--framework", "cloudformation", "--skip-download"]
OFFLINE_ENVIRONMENT = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
CHECK_ID = re.compile(r"^CKV2?_AWS_[0-9]+$")


def declared_skips(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(check id, logical id) -> reason, for every skip in the resources' Metadata."""
    skips = {}
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            key = (skip["id"], name)
            assert key not in skips, f"{name} skips {skip['id']} twice"
            skips[key] = skip.get("comment", "")
    return skips


def _validate_recipe() -> list[str]:
    """The commands of the Makefile's validate target, continuation lines joined."""
    text = MAKEFILE.read_text().replace("\\\n", " ")
    match = re.search(r"^validate:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.MULTILINE)
    assert match, "the Makefile has no validate target"
    return [line.strip() for line in match[1].splitlines()]


def _without_skips(directory: Path) -> Path:
    """The template without any of its checkov skips, in CloudFormation's JSON form (the loader has already
    turned the short tags into their long form)."""
    template = fresh_template()
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)
    path = directory / "template-without-skips.json"
    path.write_text(json.dumps(template))
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """checkov's JSON reports, run as `make validate` runs it, on the template and on it without its skips.

    Both scans run at once: checkov takes seconds to start.
    """
    checkov = installed(CHECKOV)
    paths = {"template": TEMPLATE, "without skips": _without_skips(tmp_path_factory.mktemp("checkov"))}
    scans = {
        name: subprocess.Popen(
            [str(checkov), "-f", str(path), *OFFLINE_FLAGS, "--compact", "--output", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=os.environ | OFFLINE_ENVIRONMENT,
        )
        for name, path in paths.items()
    }
    found = {}
    for name, scan in scans.items():
        stdout, stderr = scan.communicate(timeout=300)
        assert scan.returncode in (0, 1), f"{name}: {stdout[-2000:]}{stderr[-2000:]}"
        report: dict[str, Any] = json.loads(stdout)
        assert report.get("check_type") == "cloudformation", report
        found[name] = report
    return found


def _findings(report: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    """(check id, logical id) of the report's `kind` checks: "failed_checks" or "skipped_checks"."""
    return {(check["check_id"], check["resource"].rsplit(".", 1)[-1]) for check in report["results"][kind]}


# ------------------------------------------------------------------------------- the gate
def test_validate_runs_checkov_offline_on_the_template() -> None:
    # Given the Makefile's validate recipe, and the target CI runs
    recipe = _validate_recipe()
    checkov_lines = [shlex.split(line) for line in recipe if "checkov" in line]

    # When the checkov command is read
    assert len(checkov_lines) == 1, recipe
    (command,) = checkov_lines
    environment = dict(word.split("=", 1) for word in command if "=" in word and not word.startswith("-"))
    arguments = [word for word in command if not ("=" in word and not word.startswith("-"))]

    # Then it scans template.yaml as CloudFormation, from its own environment, without reaching the network
    assert arguments[0] == "$(CHECKOV)/bin/checkov"
    assert arguments[arguments.index("-f") + 1] == "template.yaml"
    assert all(flag in arguments for flag in OFFLINE_FLAGS), arguments
    assert environment == OFFLINE_ENVIRONMENT
    # ... and validate, which `make test` (what CI runs) includes, installs that environment first
    assert re.search(r"^validate:.*\$\(CHECKOV\)/\.installed", MAKEFILE.read_text(), re.MULTILINE)
    assert re.search(r"^test:.*\bvalidate\b", MAKEFILE.read_text(), re.MULTILINE)


def test_every_skip_names_a_check_and_says_why() -> None:
    # Given every checkov skip declared in the template
    skips = declared_skips(fresh_template())

    # When their ids and reasons are read
    # Then each names a check, and gives a reason of a sentence at least, beside the resource it concerns
    assert skips, "no skip found: the walk over the template is broken"
    for (check_id, resource), reason in skips.items():
        assert CHECK_ID.match(check_id), (check_id, resource)
        assert len(reason.split()) >= 8, f"{resource} skips {check_id} without a reason: {reason!r}"


def test_checkov_finds_no_failed_check_and_uses_every_skip(reports: dict[str, dict[str, Any]]) -> None:
    # Given the template as `make validate` scans it
    # When checkov scans it
    report = reports["template"]

    # Then no check fails and the template parses
    assert report["summary"]["parsing_errors"] == 0
    assert _findings(report, "failed_checks") == set()
    assert report["summary"]["failed"] == 0
    assert report["summary"]["passed"] > 0
    # ... and each declared skip silences a finding checkov made (none is stale), and nothing else is skipped
    assert _findings(report, "skipped_checks") == set(declared_skips(fresh_template()))


def test_checkov_fails_the_template_without_its_skips(reports: dict[str, dict[str, Any]]) -> None:
    # Given the template without any of its checkov skips
    expected = set(declared_skips(fresh_template()))

    # When checkov scans it
    report = reports["without skips"]

    # Then exactly the skipped findings fail: the gate fails on a finding nobody accepted
    assert report["summary"]["parsing_errors"] == 0
    assert _findings(report, "failed_checks") == expected
