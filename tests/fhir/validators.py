"""FHIR validators for the tests: HL7's R4 JSON schema, Medplum's StructureDefinition validator, UK Core requirements.

`assert_valid(*documents)` is what a test calls on what Pathway exports or sends; see tests/fhir/README.md.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import tempfile
import threading
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


class _NodeValidators:
    """validate.mjs, started once per test process: it takes about three seconds to load, then answers at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        # A file, not a pipe: a pipe nobody reads could fill and stall node.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (open as long as node may write to it)

    def reports(self, documents: tuple[dict[str, Any], ...]) -> list[list[dict[str, Any]]]:
        with self._lock:
            process = self._running()
            assert process.stdin is not None and process.stdout is not None
            # json.dumps escapes newlines inside strings, so a request is one line.
            process.stdin.write(json.dumps(documents) + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
            if not answer:
                self._stderr.seek(0)
                raise RuntimeError(f"the FHIR validators stopped: {self._stderr.read().strip()}")
            reports: list[list[dict[str, Any]]] = json.loads(answer)
            return reports

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [_node(), str(NODE_SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                cwd=REPOSITORY,
            )
            # Under pytest, which leaves through os._exit (tests/conftest.py), atexit does not run: node still ends,
            # on the end of its input, when this process is gone.
            atexit.register(self._stop, self._process)
        return self._process

    @staticmethod
    def _stop(process: subprocess.Popen[str]) -> None:
        if process.stdin is not None:
            process.stdin.close()  # node ends when its input does
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


_node_validators = _NodeValidators()


def _message(issue: dict[str, str]) -> str:
    return f"{issue['path'] or '(document)'}: {issue['message']}"


def _by_kind(issues: list[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    """Issues grouped by what they say, before any detail (e.g. `Invalid reference: got "https:", ...`)."""
    kinds: dict[str, list[str]] = {}
    for issue in issues:
        kinds.setdefault(issue["message"].split(":")[0], []).append(_message(issue))
    return {kind: tuple(messages) for kind, messages in kinds.items()}


def validate(*documents: dict[str, Any]) -> list[Report]:
    """Every validator's report on every document (resources or Bundles), in document order."""
    reports: list[Report] = []
    for document, node_reports in zip(documents, _node_validators.reports(documents), strict=True):
        name = _name(document)
        reports.extend(
            Report(
                validator=found["name"],
                version=found["version"],
                document=name,
                errors=tuple(_message(issue) for issue in found["errors"]),
                warnings=_by_kind(found["warnings"]),
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


def refuse_invalid(document: dict[str, Any]) -> None:
    """A receiver's check (tests/fhir/receiver.py): raise, listing every error, unless the document
    passes every validator."""
    assert_valid(document)
