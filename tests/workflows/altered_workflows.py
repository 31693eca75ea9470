"""CaseWorkflow with a change that is not replay-safe, to show the golden histories catch such changes.

Kept in its own module: the workflow sandbox re-imports the module a workflow class is defined in.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.commands import Command
    from workflows.case_workflow import CaseWorkflow
    from workflows.messages import CaseInput, CaseResult


@workflow.defn(name="CaseWorkflow")
class CaseWorkflowWithExtraTimer(CaseWorkflow):
    """Waits a moment before recording every command: a timer the recorded histories never started."""

    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        return await super().run(input)

    async def _record_or_reject(self, command: Command) -> None:
        await workflow.sleep(timedelta(seconds=1), summary="settle")
        await super()._record_or_reject(command)
