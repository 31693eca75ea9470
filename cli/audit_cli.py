"""`pathway audit ...`: check that the record was not altered, and who read or changed a case."""

import typer

from cli import audit_case, audit_projections, audit_replay, audit_verify
from cli.case_cli import JsonFlag, StaffOption
from cli.runtime import open_service, principal_for, print_json, run, settings_from
from domain.text_rules import terminal_safe

app = typer.Typer(help="Audit the event store.", no_args_is_help=True)


@app.command("access")
def access(ctx: typer.Context, case_id: str, staff: StaffOption, as_json: JsonFlag = False) -> None:
    """Who read or changed a case, when and why (auditors, for cases of their sites); this read is
    recorded too."""
    settings = settings_from(ctx)

    async def command() -> None:
        principal = principal_for(settings, staff)
        async with open_service(settings, reads_only=True) as service:
            records = await service.cases.case_access(principal, case_id)
        if as_json:
            print_json([r.model_dump(mode="json") for r in records])
            return
        for record in records:
            # The purpose is what someone typed (a break-glass reason, an export's purpose).
            line = f"{record.at:%Y-%m-%d %H:%M:%S}Z  {record.staff_id} ({record.role})  {record.action:<24} "
            typer.echo(terminal_safe(line + record.purpose + ("  BREAK-GLASS" if record.break_glass else "")))
        typer.echo(f"{len(records)} access record(s)")

    run(command)


# Commands kept in modules of their own.
app.command("verify")(audit_verify.verify)
app.command("checkpoint")(audit_verify.checkpoint)
app.command("timeline")(audit_case.timeline)
app.command("person")(audit_case.person)
app.command("export")(audit_case.export)
app.command("rebuild-projections")(audit_projections.rebuild_projections)
app.command("replay")(audit_replay.replay)
