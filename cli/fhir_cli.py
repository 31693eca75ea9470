"""`pathway fhir export CASE_OR_PERSON --as STAFF`: a case, or a person with their episodes, as an HL7
FHIR R4 Bundle (docs/fhir.md), through the service like every other command (service/fhir.py says who
may, and what is recorded)."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.case_cli import StaffOption
from cli.runtime import open_service, principal_for, run, settings_from
from service.fhir import fhir_export, fhir_person_export

app = typer.Typer(help="HL7 FHIR exports.", no_args_is_help=True)


@app.command("export")
def export(
    ctx: typer.Context,
    case_or_person: Annotated[str, typer.Argument(help="A case (case-...) or a person (person-...).")],
    staff: StaffOption,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the Bundle to this file (created or replaced) instead of printing it."),
    ] = None,
) -> None:
    """Print a FHIR Bundle (collection) as JSON. A case: its Patient (the person), EpisodeOfCare,
    Consent, a ServiceRequest and Task per referral, an AuditEvent per recorded event. A person: the
    one Patient and each of their episodes in your sites with its resources."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            if case_or_person.startswith("person-"):
                bundle = await fhir_person_export(service.people, principal, case_or_person)
            else:
                bundle = await fhir_export(service.cases, principal, case_or_person)
        text = bundle.model_dump_json(indent=2, exclude_none=True) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
            sys.stderr.write(f"wrote {out} ({len(bundle.entry or [])} resources, FHIR R4 4.0.1)\n")

    run(command)
