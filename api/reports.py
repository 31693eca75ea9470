"""Service reports over HTTP: `GET /api/reports` (JSON, or one table as CSV, or the standalone HTML
document) and the web page `/reports` for team leads (and auditors), with the same charts and tables.

The period is `period=YYYY-MM`, or `from=` and `to=` (dates, both inclusive, UK time); with neither,
the current month. A backwards range or an unknown site is refused in plain words (422, 404); a
period with no data is an empty, valid report."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import PrincipalDep, Services, ServicesDep
from api.problems import REFUSALS
from api.report_charts import charts
from api.web import SignedInDep, page, templates
from domain.access import Principal
from domain.errors import Rule, RuleViolation
from domain.reporting import Period, ServiceReport, table_csv
from domain.timeline import UK

router = APIRouter()
PeriodQuery = Annotated[str | None, Query(max_length=7, description="A month, YYYY-MM")]
FromQuery = Annotated[date | None, Query(alias="from", description="First day (UK), with `to`")]
ToQuery = Annotated[date | None, Query(description="Last day (UK), inclusive, with `from`")]
SiteQuery = Annotated[str | None, Query(max_length=40, description="One of your sites; default all of them")]
TableQuery = Annotated[str, Query(max_length=40, description="For CSV: which table")]


def period_from(period: str | None, first: date | None, last: date | None) -> Period:
    """The period a request names: a month, or a from/to range, or else the current month (UK)."""
    if period and (first or last):
        raise RuleViolation(Rule.INVALID_INPUT, "give either a month (period) or a from/to range, not both")
    if period:
        return Period.month(period)
    if first or last:
        if first is None or last is None:
            raise RuleViolation(Rule.INVALID_INPUT, "a date range needs both from and to")
        return Period.between(first, last)
    return Period.month(f"{datetime.now(UK):%Y-%m}")


def report_html(report: ServiceReport) -> str:
    """The standalone report document: styles and SVG charts inline, no scripts, nothing fetched."""
    context = {"report": report, "tables": report.tables(), "charts": charts(report), "csv_link": None}
    return templates.env.get_template("reports/document.html").render(context)


def csv_response(report: ServiceReport, table: str) -> Response:
    tables = {t.name: t for t in report.tables()}
    if table not in tables:
        raise RuleViolation(Rule.INVALID_INPUT, f"there is no table {table!r} (tables: {', '.join(tables)})")
    filename = f"pathway-report-{report.period.first_day}-{report.period.last_day}-{table}.csv"
    return Response(
        table_csv(tables[table]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _report(
    found: Services, principal: Principal, period: str | None, first: date | None, last: date | None, site: str | None
) -> ServiceReport:
    return await found.pathway.reports.report(principal, period_from(period, first, last), site or None)


@router.get(
    "/api/reports",
    tags=["reports"],
    responses=REFUSALS
    | {200: {"description": "The report", "content": {"application/json": {}, "text/csv": {}, "text/html": {}}}},
)
async def api_report(
    found: ServicesDep,
    principal: PrincipalDep,
    period: PeriodQuery = None,
    first: FromQuery = None,
    to: ToQuery = None,
    site: SiteQuery = None,
    format: Literal["json", "csv", "html"] = "json",
    table: TableQuery = "summary",
) -> Response:
    """The service report of a period for your sites (team leads and auditors): JSON, one table as
    CSV (`table=`: summary, by_site, by_setting, by_cohort, by_age_band, referrals,
    time_to_screening, monthly_trend, repeat_contacts), or the HTML document with its charts."""
    report = await _report(found, principal, period, first, to, site)
    if format == "csv":
        return csv_response(report, table)
    if format == "html":
        return HTMLResponse(report_html(report))
    return JSONResponse(report.model_dump(mode="json") | {"tables": [t.name for t in report.tables()]})


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def report_page(
    request: Request,
    user: SignedInDep,
    found: ServicesDep,
    period: PeriodQuery = None,
    first: FromQuery = None,
    to: ToQuery = None,
    site: SiteQuery = None,
) -> HTMLResponse:
    report = await _report(found, user.principal, period, first, to, site)
    query: dict[str, Any] = {"from": report.period.first_day, "to": report.period.last_day}
    if site:
        query["site"] = site

    def link(**extra: str) -> str:
        return "/reports/download?" + urlencode(query | extra)

    csv_link: Callable[[str], str] = lambda name: link(format="csv", table=name)  # noqa: E731
    context = {
        "user": user,
        "report": report,
        "tables": report.tables(),
        "charts": charts(report),
        "csv_link": csv_link,
        "html_link": link(format="html"),
        "period_text": f"{report.period.first_day:%Y-%m}",
        "site": site or "",
    }
    return page(request, "report_page.html", context)


@router.get("/reports/download", include_in_schema=False)
async def report_download(
    user: SignedInDep,
    found: ServicesDep,
    period: PeriodQuery = None,
    first: FromQuery = None,
    to: ToQuery = None,
    site: SiteQuery = None,
    format: Literal["csv", "html"] = "html",
    table: TableQuery = "summary",
) -> Response:
    report = await _report(found, user.principal, period, first, to, site)
    if format == "csv":
        return csv_response(report, table)
    filename = f"pathway-report-{report.period.first_day}-{report.period.last_day}.html"
    return HTMLResponse(report_html(report), headers={"Content-Disposition": f'attachment; filename="{filename}"'})
