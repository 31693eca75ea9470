"""Service reports over HTTP: the JSON and CSV API, the standalone HTML, and the team lead's page."""

import csv
import io

import httpx
import pytest_asyncio

from domain.model import Role
from service.staff import StaffCommands
from tests.api.conftest import token
from tests.domain.test_reporting import case_a, case_b, case_c, case_d, case_e, case_f

LEAD = token("tl-001", Role.TEAM_LEAD, ("demo", "north"))
AUDITOR = token("au-001", Role.AUDITOR, ("demo", "north"))
PRACTITIONER = token("pr-001", Role.PRACTITIONER, ("demo",))
NOVEMBER = {"period": "2026-11", "site": "north"}


@pytest_asyncio.fixture(loop_scope="session")
async def scripted(cases: StaffCommands) -> StaffCommands:
    """The scripted journeys of tests/domain/test_reporting.py, in the store (south's is left out)."""
    for journey in (case_a, case_b, case_c, case_d, case_e, case_f):
        built = journey()
        if built.site.site_id == "north":
            await cases.store.append(built.state.case_id, built.envelopes)
    return cases


async def test_the_json_report_of_the_scripted_month(api: httpx.AsyncClient, scripted: StaffCommands) -> None:
    answer = await api.get("/api/reports", params=NOVEMBER, headers=LEAD)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sites"] == ["north"]
    totals = body["totals"]
    assert totals["counts"]["identified"] == 3 and totals["counts"]["screened"] == 3
    assert totals["counts"]["court_reports"] == 2 and totals["counts"]["court_reports_on_time"] == 1
    assert (totals["screening_median_minutes"], totals["screening_p90_minutes"]) == (70, 240)
    assert totals["screened_within_sla_pct"] == 66.7
    assert "by_cohort" in body["tables"] and "repeat_contacts" in body["tables"]
    # A, B and E identified in November at north, none with a person id: three people, none seen before.
    repeat = body["repeat_contacts"]
    assert (repeat["people"], repeat["people_with_two_or_more"], repeat["days_since_previous"]) == (3, 0, [])


async def test_every_table_as_csv(api: httpx.AsyncClient, scripted: StaffCommands) -> None:
    tables = (await api.get("/api/reports", params=NOVEMBER, headers=AUDITOR)).json()["tables"]
    for table in tables:
        answer = await api.get("/api/reports", params=NOVEMBER | {"format": "csv", "table": table}, headers=AUDITOR)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert len(rows) > 1 and all(len(row) == len(rows[0]) for row in rows)
    referrals = await api.get("/api/reports", params=NOVEMBER | {"format": "csv", "table": "referrals"}, headers=LEAD)
    assert "mental_health,1,1,0,0,1,0,1" in referrals.text.splitlines()


async def test_the_html_document_has_its_four_charts(api: httpx.AsyncClient, scripted: StaffCommands) -> None:
    answer = await api.get("/api/reports", params=NOVEMBER | {"format": "html"}, headers=LEAD)
    assert answer.status_code == 200
    for chart in ("funnel", "time-to-screening", "referral-outcomes", "monthly-trend"):
        assert f'data-chart="{chart}"' in answer.text
    assert "<script" not in answer.text
    assert 'id="table-repeat_contacts"' in answer.text and "People with 2 or more episodes" in answer.text


async def test_bad_input_gets_clear_answers(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    backwards = await api.get("/api/reports", params={"from": "2026-11-30", "to": "2026-11-01"}, headers=LEAD)
    assert backwards.status_code == 422 and "runs backwards" in backwards.json()["detail"]
    unknown = await api.get("/api/reports", params={"site": "atlantis"}, headers=LEAD)
    assert unknown.status_code == 404 and "no site 'atlantis'" in unknown.json()["detail"]
    not_mine = await api.get(
        "/api/reports", params={"site": "north"}, headers=token("tl-001", Role.TEAM_LEAD, ("demo",))
    )
    assert not_mine.status_code == 403
    month = await api.get("/api/reports", params={"period": "Nov"}, headers=LEAD)
    assert month.status_code == 422 and "YYYY-MM" in month.json()["detail"]
    table = await api.get("/api/reports", params={"format": "csv", "table": "nope"}, headers=LEAD)
    assert table.status_code == 422
    refused = await api.get("/api/reports", headers=PRACTITIONER)
    assert refused.status_code == 403 and "cannot read the service reports" in refused.json()["detail"]


async def test_a_period_with_no_data_is_an_empty_report(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    answer = await api.get("/api/reports", params={"period": "2019-01"}, headers=LEAD)
    assert answer.status_code == 200
    assert set(answer.json()["totals"]["counts"].values()) == {0}


async def test_the_team_leads_page(api: httpx.AsyncClient, scripted: StaffCommands) -> None:
    cookies = {"pathway_session": LEAD["Authorization"].removeprefix("Bearer ")}
    page = await api.get("/reports", params=NOVEMBER, cookies=cookies)
    assert page.status_code == 200, page.text
    assert "Service report" in page.text and page.text.count('class="report-chart"') == 4
    assert "/reports/download?" in page.text and 'id="table-repeat_contacts"' in page.text
    download = await api.get(
        "/reports/download", params=NOVEMBER | {"format": "csv", "table": "by_site"}, cookies=cookies
    )
    assert download.status_code == 200 and download.text.startswith("Site,Identified")
    backwards = await api.get("/reports", params={"from": "2026-11-30", "to": "2026-11-01"}, cookies=cookies)
    assert backwards.status_code == 422 and "runs backwards" in backwards.text
