"""FHIR validators for the tests: HL7's R4 JSON schema, Medplum's StructureDefinition validator, UK Core requirements.

`assert_valid(*documents)` is what a test calls on what Pathway exports or sends; see tests/fhir/README.md.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fhir import ukcore

REPOSITORY = Path(__file__).resolve().parents[2]
NODE_SCRIPT = Path(__file__).with_name("validate.mjs")
UK_CORE_VALIDATOR = f"ukcore-requirements (transcribed from {ukcore.UK_CORE})"


@dataclass(frozen=True)
class Report:
    """One validator's findings on one document. Warnings are grouped by kind."""

    validator: str
    version: str
    document: str
    errors: tuple[str, ...]
    warnings: dict[str, tuple[str, ...]]


def _node() -> str:
    node = shutil.which("node") or "/usr/bin/node"
    if not Path(node).exists():
        raise RuntimeError("node is needed for the FHIR validators (make install brings it with npm)")
    if not (REPOSITORY / "node_modules" / "@medplum" / "core").exists():
        raise RuntimeError("the FHIR validators' npm packages are missing: run make install (npm ci)")
    return node


def _name(document: dict[str, Any]) -> str:
    return f"{document.get('resourceType')}/{document.get('id', '(no id)')}"


def _node_reports(documents: tuple[dict[str, Any], ...]) -> list[list[dict[str, Any]]]:
    finished = subprocess.run(
        [_node(), str(NODE_SCRIPT)],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the FHIR validators failed to run: {finished.stderr.strip()}")
    reports: list[list[dict[str, Any]]] = json.loads(finished.stdout)
    return reports


def _message(issue: dict[str, str]) -> str:
    return f"{issue['path'] or '(document)'}: {issue['message']}"


def validate(*documents: dict[str, Any]) -> list[Report]:
    """Every validator's report on every document (resources or Bundles), in document order."""
    reports = []
    for document, node_reports in zip(documents, _node_reports(documents), strict=True):
        name = _name(document)
        reports.extend(
            Report(
                validator=found["name"],
                version=found["version"],
                document=name,
                errors=tuple(_message(issue) for issue in found["errors"]),
                warnings={found["name"]: tuple(_message(issue) for issue in found["warnings"])}
                if found["warnings"]
                else {},
            )
            for found in node_reports
        )
        reports.append(
            Report(
                validator=UK_CORE_VALIDATOR,
                version=ukcore.UK_CORE,
                document=name,
                errors=tuple(ukcore.check(document)),
                warnings={kind: tuple(items) for kind, items in ukcore.warnings(document).items()},
            )
        )
    return reports


def assert_valid(*documents: dict[str, Any]) -> list[Report]:
    """Validate, fail listing every error with its validator and document; return the reports for their warnings."""
    reports = validate(*documents)
    errors = [f"[{r.validator}] {r.document}: {error}" for r in reports for error in r.errors]
    if errors:
        raise AssertionError(f"{len(errors)} FHIR validation error(s):\n" + "\n".join(errors))
    return reports


@functools.cache
def versions() -> dict[str, str]:
    """Each validator's name and version (for notes and reports)."""
    return {report.validator: report.version for report in validate({"resourceType": "Basic", "code": {}})}
