"""`pathway fhir export CASE --as STAFF`: a case as an HL7 FHIR R4 Bundle (docs/fhir.md), through the
service like every other command (service/fhir.py says who may, and what is recorded)."""

import sys

import typer

from cli.case_cli import StaffOption
from cli.runtime import open_service, principal_for, run, settings_from
from service.fhir import fhir_export

app = typer.Typer(help="HL7 FHIR exports.", no_args_is_help=True)


@app.command("export")
def export(ctx: typer.Context, case_id: str, staff: StaffOption) -> None:
    """Print a case's FHIR Bundle (collection) as JSON: Patient, EpisodeOfCare, Consent, a
    ServiceRequest and Task per referral, an AuditEvent per recorded event."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            bundle = await fhir_export(service.cases, principal, case_id)
        sys.stdout.write(bundle.model_dump_json(indent=2, exclude_none=True) + "\n")

    run(command)
