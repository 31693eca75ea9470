"""Service reports for team leads and auditors: the streams of a site's cases read from the store,
within the person's site scope, and folded into a report by domain/reporting.py.

A report is aggregate (no personal field is read or shown), so reading one is not written to the
per-case access log."""

from dataclasses import dataclass, field

from domain.access import Action, Principal, require_allowed
from domain.config import PathwayConfig
from domain.errors import RuleViolation
from domain.reporting import Period, ReportConfig, ServiceReport, service_report
from store.event_store import EventStore


@dataclass
class Reports:
    store: EventStore
    config: PathwayConfig
    report_config: ReportConfig = field(default_factory=ReportConfig)

    def sites_for(self, principal: Principal, site: str | None) -> list[str]:
        """The sites a report covers: the one asked for (known, and one of the person's), or all of theirs."""
        require_allowed(principal.actor, Action.READ_REPORTS)
        if site is None:
            return list(principal.sites)
        self.config.site(site)  # an unknown site is refused with the known ones listed
        if not principal.covers(site):
            raise RuleViolation("outside_your_sites", f"you do not work at site {site}")
        return [site]

    async def report(self, principal: Principal, period: Period, site: str | None = None) -> ServiceReport:
        sites = self.sites_for(principal, site)
        streams = []
        for each in sites:
            for case in await self.store.list_cases(site=each):
                if case.opened_at < period.end:  # a case opened later has nothing in the period
                    streams.append(await self.store.read_stream(case.case_id))
        return service_report(streams, period, sites, self.report_config)
