"""The service report's charts as inline SVG, drawn here (no charting dependency): the funnel through
the stages, the distribution of times to screening, referral outcomes by service type (stacked), and
the monthly trend. Each is a standalone <svg> with a title and text labels, so it reads without colour."""

from html import escape

from markupsafe import Markup

from domain.reporting import REFERRAL_OUTCOMES, ServiceReport

BLUE, DARK, GREEN, GREY = "#005eb8", "#003087", "#007f3b", "#768692"
OUTCOME_COLOURS = ["#005eb8", "#d5281b", "#ffb81c", "#007f3b", "#768692", "#330072"]
WIDTH = 640


def _svg(name: str, title: str, height: int, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="report-chart" data-chart="{name}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 13, fill: str = "#212b32") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
        f'font-family="Arial, sans-serif">{escape(text)}</text>'
    )


def _bar(x: float, y: float, w: float, h: float, fill: str, label: str) -> str:
    return (
        f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}"><title>{escape(label)}</title></rect>'
    )


def funnel(report: ServiceReport) -> Markup:
    counts = report.totals.counts
    shared = sum(
        counts[k] for k in ("shared_police", "shared_court", "shared_probation", "shared_youth_justice", "shared_other")
    )
    steps = [
        ("Identified", counts["identified"]),
        ("Screened", counts["screened"]),
        ("Assessed", counts["assessed"]),
        ("Information shared", shared),
        ("Referrals made", counts["referrals"]),
        ("Support started", counts["support_started"]),
    ]
    top = max((v for _, v in steps), default=0) or 1
    body, row = [], 34
    for i, (label, value) in enumerate(steps):
        y = 10 + i * row
        width = (WIDTH - 260) * value / top
        body.append(_text(150, y + 18, label, anchor="end"))
        body.append(_bar(160, y, width, row - 8, BLUE, f"{label}: {value}"))
        body.append(_text(166 + width, y + 18, str(value)))
    return _svg("funnel", "Funnel through the stages", 10 + len(steps) * row, body)


def screening_histogram(report: ServiceReport) -> Markup:
    bins = report.screening_histogram
    height, base, left = 240, 190, 50
    top = max((b.count for b in bins), default=0) or 1
    slot = (WIDTH - left - 10) / max(len(bins), 1)
    body = [f'<line x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="{GREY}"/>']
    for i, b in enumerate(bins):
        h = (base - 30) * b.count / top
        x = left + i * slot + 6
        body.append(_bar(x, base - h, slot - 12, h, DARK, f"{b.label}: {b.count}"))
        body.append(_text(x + (slot - 12) / 2, base - h - 5, str(b.count), anchor="middle"))
        body.append(_text(x + (slot - 12) / 2, base + 18, b.label, anchor="middle", size=11))
    median = report.totals.screening_median_minutes
    pct = report.totals.screened_within_sla_pct
    caption = "No screenings in this period" if median is None else f"Median {median:g} min; {pct:g}% within SLA"
    body.append(_text(left, 18, caption))
    body.append(_text(WIDTH / 2, height - 8, "Time from identification to screening", anchor="middle", size=11))
    return _svg("time-to-screening", "Time from identification to screening", height, body)


def referral_outcomes(report: ServiceReport) -> Markup:
    rows = [r for r in report.referrals if r.made or any(r.outcomes.values())]
    row_h, left = 28, 170
    legend_h = 30
    height = legend_h + max(len(rows), 1) * row_h + 10
    top = max((sum(r.outcomes.values()) for r in rows), default=0) or 1
    body = []
    for i, (status, colour) in enumerate(zip(REFERRAL_OUTCOMES, OUTCOME_COLOURS, strict=True)):
        x = 10 + i * 105
        body.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, 17, str(status).replace("_", " "), size=11))
    if not rows:
        body.append(_text(left, legend_h + 18, "No referrals in this period"))
    for i, r in enumerate(rows):
        y = legend_h + i * row_h
        body.append(_text(left - 8, y + 17, f"{str(r.service).replace('_', ' ')} ({r.made})", anchor="end", size=12))
        position = float(left)
        for status, colour in zip(REFERRAL_OUTCOMES, OUTCOME_COLOURS, strict=True):
            w = (WIDTH - left - 20) * r.outcomes[status] / top
            if w:
                body.append(_bar(position, y, w, row_h - 8, colour, f"{r.service} {status}: {r.outcomes[status]}"))
            position += w
    return _svg("referral-outcomes", "Referral outcomes by service type", height, body)


def monthly_trend(report: ServiceReport) -> Markup:
    height, base, left = 240, 190, 40
    top = max((max(m.identified, m.screened) for m in report.trend), default=0) or 1
    slot = (WIDTH - left - 10) / max(len(report.trend), 1)
    body = [f'<line x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="{GREY}"/>']
    body.append(f'<rect x="{left}" y="8" width="12" height="12" fill="{BLUE}"/>' + _text(left + 16, 19, "identified"))
    body.append(f'<rect x="{left + 110}" y="8" width="12" height="12" fill="{GREEN}"/>')
    body.append(_text(left + 126, 19, "screened"))
    for i, m in enumerate(report.trend):
        x = left + i * slot + 8
        w = (slot - 16) / 2
        for j, (value, colour, what) in enumerate(
            ((m.identified, BLUE, "identified"), (m.screened, GREEN, "screened"))
        ):
            h = (base - 40) * value / top
            body.append(_bar(x + j * w, base - h, w - 2, h, colour, f"{m.month} {what}: {value}"))
            body.append(_text(x + j * w + w / 2, base - h - 4, str(value), anchor="middle", size=11))
        body.append(_text(x + w, base + 18, m.month, anchor="middle", size=11))
    return _svg("monthly-trend", "Monthly trend: identified and screened", height, body)


def charts(report: ServiceReport) -> list[tuple[str, Markup]]:
    return [
        ("Funnel through the stages", funnel(report)),
        ("Time from identification to screening", screening_histogram(report)),
        ("Referral outcomes by service type", referral_outcomes(report)),
        ("Monthly trend", monthly_trend(report)),
    ]
