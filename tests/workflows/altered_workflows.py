"""CaseWorkflow with a change that is not replay-safe, to show the golden histories catch such changes.

Kept in its own module: the workflow sandbox re-imports the module a workflow class is defined in.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.commands import Command
    from domain.events import EventEnvelope
    from workflows.case_workflow import CaseWorkflow
    from workflows.messages import CaseInput, CaseResult


@workflow.defn(name="CaseWorkflow")
class CaseWorkflowWithExtraTimer(CaseWorkflow):
    """Waits a moment before recording every command: a timer the recorded histories never started."""

    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        return await super().run(input)

    async def _record(self, command: Command) -> list[EventEnvelope]:
        # Every record, not only a person's command's: a linked episode opens itself from its input.
        await workflow.sleep(timedelta(seconds=1), summary="settle")
        return await super()._record(command)
