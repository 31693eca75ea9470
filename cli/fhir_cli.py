"""`pathway fhir export CASE --as STAFF`: a case as an HL7 FHIR R4 Bundle (docs/fhir.md).

Through the inbox like every other command: the role x action matrix (practitioners and team leads
of the case's site, auditors), the site scope (another site's case looks absent) and the access log
(action "fhir_export"). Personal fields are opened for the receiving clinician; shredded ones are
left out."""

import sys
from datetime import UTC, datetime

import typer
from fhir.resources.R4B.bundle import Bundle

from cli.case_cli import StaffOption
from cli.runtime import open_inbox, principal_for, run, settings_from
from domain.access import Action, Principal, require_allowed
from domain.fhir import case_bundle
from workers.inbox import CaseView, Inbox

app = typer.Typer(help="HL7 FHIR exports.", no_args_is_help=True)


async def export_case(inbox: Inbox, principal: Principal, case_id: str, at: datetime | None = None) -> Bundle:
    """The case's Bundle, after the role and site checks; the export is recorded in the access log."""
    require_allowed(principal.actor, Action.EXPORT_FHIR)
    await inbox.case_in_scope(principal, case_id)
    store = inbox.commands.store
    view = await inbox.opened(
        CaseView(state=await store.case_state(case_id), timeline=await store.read_stream(case_id))
    )
    await inbox.record_access(principal, case_id, "fhir_export", "FHIR export for a receiving clinician")
    return case_bundle(view.state, view.timeline, at or datetime.now(UTC))


@app.command("export")
def export(ctx: typer.Context, case_id: str, staff: StaffOption) -> None:
    """Print a case's FHIR Bundle (collection) as JSON: Patient, EpisodeOfCare, Consent, a
    ServiceRequest and Task per referral, an AuditEvent per recorded event."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_inbox(settings, reads_only=True) as inbox:
            bundle = await export_case(inbox, principal, case_id)
        sys.stdout.write(bundle.model_dump_json(indent=2, exclude_none=True) + "\n")

    run(command)
