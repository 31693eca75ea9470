"""Commands in a staff member's name, for tests and benchmarks (no interface uses it): each goes
through the service as the person its actor names, resolved from the staff directory like the CLI's
`--as`. The same checks, the same sealing and the same access record as the API; only the calling
convention differs (an actor per command, as the workflow sees it)."""

from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from domain.access import Principal
from domain.commands import (
    CloseCase,
    OpenCase,
    RecordDateOfBirth,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReleaseDate,
    RequestCourtReport,
    ShareInformation,
    WithdrawConsent,
)
from domain.config import PathwayConfig
from domain.model import Actor
from domain.state import CaseState
from service.cases import AccessEntry, CaseChange, CaseService, Readable
from service.identity import principal_for_staff
from service.pathway import Pathway
from store.event_store import EventStore
from store.sealing import Sealer


@dataclass
class StaffCommands:
    pathway: Pathway
    client: Client
    task_queue: str

    @property
    def service(self) -> CaseService:
        return self.pathway.cases

    @property
    def store(self) -> EventStore:
        return self.service.gateway.store

    @property
    def config(self) -> PathwayConfig:
        return self.service.config

    @property
    def sealer(self) -> Sealer:
        return self.service.sealer

    @property
    def case_id_key(self) -> bytes:
        return self.service.case_id_key

    def principal(self, actor: Actor) -> Principal:
        principal = principal_for_staff(self.config, actor.staff_id)
        assert principal.role is actor.role, f"{actor.staff_id} is {principal.role} in the directory, not {actor.role}"
        return principal

    def actor(self, staff_id: str) -> Actor:
        return principal_for_staff(self.config, staff_id).actor

    async def person_of(self, case_id: str) -> str:
        return await self.service.person_of(case_id)

    async def opened(self, model: Readable, case_id: str) -> Readable:
        """A sealed model (a fold of stored events, a workflow's answer) as the case's readers see it."""
        return await self.sealer.open_for_case(model, case_id)

    async def access_log(self, case_id: str, reader: str = "au-001") -> list[AccessEntry]:
        """The case's access log as its auditor reads it (purposes opened), without recording a read."""
        return await self.service.access_entries(principal_for_staff(self.config, reader), case_id)

    async def start_case(self, command: OpenCase) -> CaseState:
        return await self.service.start_case(self.principal(command.actor), command)

    async def complete_task(self, task_id: str, outcome: dict[str, Any], actor: Actor) -> CaseState:
        return await self.service.complete(self.principal(actor), task_id, outcome)

    async def claim_task(self, task_id: str, actor: Actor) -> CaseState:
        return await self.service.claim(self.principal(actor), task_id)

    async def reassign_task(self, task_id: str, assignee: str, actor: Actor) -> CaseState:
        return await self.service.reassign(self.principal(actor), task_id, assignee)

    async def change(self, case_id: str, command: CaseChange) -> CaseState:
        return await self.service.change_case(self.principal(command.actor), case_id, command)

    async def share_information(self, case_id: str, command: ShareInformation) -> CaseState:
        return await self.change(case_id, command)

    async def withdraw_consent(self, case_id: str, command: WithdrawConsent) -> CaseState:
        return await self.change(case_id, command)

    async def record_referral_outcome(self, case_id: str, command: RecordReferralOutcome) -> CaseState:
        return await self.change(case_id, command)

    async def request_court_report(self, case_id: str, command: RequestCourtReport) -> CaseState:
        return await self.change(case_id, command)

    async def close_case(self, case_id: str, command: CloseCase) -> CaseState:
        return await self.change(case_id, command)

    async def record_justice_outcome(self, case_id: str, command: RecordJusticeOutcome) -> CaseState:
        return await self.change(case_id, command)

    async def record_release_date(self, case_id: str, command: RecordReleaseDate) -> CaseState:
        return await self.change(case_id, command)

    async def record_date_of_birth(self, case_id: str, command: RecordDateOfBirth) -> CaseState:
        return await self.service.record_date_of_birth(self.principal(command.actor), case_id, command.date_of_birth)
