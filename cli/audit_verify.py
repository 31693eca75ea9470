"""`pathway audit verify`: check that the record was not altered."""

from typing import Annotated

import typer

from cli.case_cli import JsonFlag
from cli.runtime import FAILED, open_store, print_json, refuse, run, settings_from


def verify(
    ctx: typer.Context,
    case_id: Annotated[str | None, typer.Argument(help="One case; or use --all.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Every case in the store.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Recompute hash chains and sequences, and compare projections with a fresh fold of the events."""
    if (case_id is None) == (not all_cases):
        refuse("give a case id or --all, not both")
    settings = settings_from(ctx)

    async def command() -> None:
        async with open_store(settings) as store:
            case_ids = await store.case_ids() if all_cases else [case_id or ""]
            results = []
            for one in case_ids:
                chain = await store.verify_chain(one)
                if chain.events == 0:
                    refuse(f"there is no case {one}")
                differences = await store.projection_differences(one)
                results.append(
                    {
                        "case_id": one,
                        "events": chain.events,
                        "chain_ok": chain.ok,
                        "first_bad_seq": chain.first_bad_seq,
                        "problem": chain.problem,
                        "projection_differences": differences,
                    }
                )
        failed = [r for r in results if not r["chain_ok"] or r["projection_differences"]]
        if as_json:
            print_json(results)
        else:
            for result in results:
                verdict = "ok" if result not in failed else "FAILED"
                typer.echo(f"{result['case_id']}  {result['events']} events  {verdict}")
                if result["problem"]:
                    typer.echo(f"  event {result['first_bad_seq']}: {result['problem']}")
                for difference in result["projection_differences"]:  # type: ignore[attr-defined]
                    typer.echo(f"  projection: {difference}")
            typer.echo(f"{len(results) - len(failed)} of {len(results)} case(s) verified")
        if failed:
            raise typer.Exit(FAILED)

    run(command)
