"""Service reports and the commissioner's data return, for team leads and auditors: the streams of a
site's cases read from the store, within the person's site scope, and folded by domain/reporting.py
and domain/data_return.py.

Both are aggregate or pseudonymous (no personal field is opened or shown), so reading one is not
written to the per-case access log."""

from collections.abc import Callable
from dataclasses import dataclass, field

from domain.access import Action, Principal, require_allowed
from domain.config import PathwayConfig
from domain.errors import Rule, RuleViolation
from domain.events import EventEnvelope
from domain.reporting import Period, ReportConfig, ServiceReport, service_report
from store.event_store import EventStore
from store.records import CaseRecord

# Told each case id as its stream is read, for a count on a terminal.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReturnStreams:
    sites: list[str]
    streams: list[tuple[str, list[EventEnvelope]]]


@dataclass
class Reports:
    store: EventStore
    config: PathwayConfig
    report_config: ReportConfig = field(default_factory=ReportConfig)

    def sites_for(self, principal: Principal, site: str | None, action: Action = Action.READ_REPORTS) -> list[str]:
        """The sites a report covers: the one asked for (known, and one of the person's), or all of theirs."""
        require_allowed(principal.actor, action)
        if site is None:
            return [each for each in principal.sites if each in self.config.sites]
        self.config.site(site)  # an unknown site is refused with the known ones listed
        if not principal.covers(site):
            raise RuleViolation(Rule.OUTSIDE_YOUR_SITES, f"you do not work at site {site}")
        return [site]

    async def report(
        self, principal: Principal, period: Period, site: str | None = None, progress: Progress | None = None
    ) -> ServiceReport:
        sites = self.sites_for(principal, site)
        # A case opened later has nothing in the period.
        streams = await self._streams(sites, lambda case: case.opened_at < period.end, progress)
        return service_report([events for _, events in streams], period, sites, self.report_config)

    async def data_return_streams(
        self, principal: Principal, site: str | None, progress: Progress | None = None
    ) -> ReturnStreams:
        """Every stream of the sites a data return covers (the one asked for, or all the person's)."""
        sites = self.sites_for(principal, site, Action.EXPORT_DATA_RETURN)
        return ReturnStreams(sites=sites, streams=await self._streams(sites, lambda _: True, progress))

    async def _streams(
        self, sites: list[str], wanted: Callable[[CaseRecord], bool], progress: Progress | None
    ) -> list[tuple[str, list[EventEnvelope]]]:
        """The streams of the sites' wanted cases; `progress` is told each case id as it is read."""
        streams: list[tuple[str, list[EventEnvelope]]] = []
        for each in sites:
            for case in await self.store.list_cases(site=each):
                if wanted(case):
                    streams.append((case.case_id, list(await self.store.read_stream(case.case_id))))
                    if progress is not None:
                        progress(case.case_id)
        return streams
