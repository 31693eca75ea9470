"""The service as every interface holds it: cases and tasks, audit, reports, people, sign-outs."""

from dataclasses import dataclass

from domain.config import PathwayConfig
from service.audit import Audit
from service.cases import CaseService
from service.people import People
from service.reports import Reports
from store.sign_outs import SignOuts


@dataclass(frozen=True)
class Pathway:
    cases: CaseService
    audit: Audit
    reports: Reports
    people: People
    sign_outs: SignOuts

    @property
    def config(self) -> PathwayConfig:
        return self.cases.config
