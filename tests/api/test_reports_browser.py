"""The HTML service report in a real headless Chromium (Debian's, driven by Playwright): each chart is
there, has a size, and has something drawn on it (pixels other than its white background)."""

import base64
from pathlib import Path

from playwright.async_api import Browser

from api.reports import report_html
from domain.reporting import Period, service_report
from tests.api.test_browser import browser  # noqa: F401  (the session's Chromium)
from tests.domain.test_reporting import case_a, case_b, case_c, case_d, case_e, case_f

CHARTS = ("funnel", "time-to-screening", "referral-outcomes", "monthly-trend")

# Count the screenshot's pixels that are not (near) white, by drawing it on a canvas in the page.
COUNT_DRAWN = """async (data) => {
  const image = new Image();
  image.src = "data:image/png;base64," + data;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  let drawn = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i] < 235 || pixels[i + 1] < 235 || pixels[i + 2] < 235) drawn++;
  }
  return drawn;
}"""


async def test_the_charts_render_and_are_not_empty(browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    streams = [journey().envelopes for journey in (case_a, case_b, case_c, case_d, case_e, case_f)]
    report = service_report(streams, Period.month("2026-11"), ["north", "south"])
    document = tmp_path / "report.html"
    document.write_text(report_html(report), encoding="utf-8")
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    try:
        await page.goto(document.as_uri())
        for name in CHARTS:
            chart = page.locator(f'svg[data-chart="{name}"]')
            box = await chart.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100, name
            bars = await chart.locator("rect.bar").evaluate_all(
                "rects => rects.filter(r => r.getBBox().width > 0 && r.getBBox().height > 0).length"
            )
            assert bars >= 2, f"{name}: {bars} bars drawn"
            shot = await chart.screenshot(path=str(tmp_path / f"{name}.png"))
            drawn = await page.evaluate(COUNT_DRAWN, base64.b64encode(shot).decode())
            assert drawn > 0.02 * box["width"] * box["height"], f"{name}: only {drawn} pixels drawn"
    finally:
        await context.close()
