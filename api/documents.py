"""Audit documents as files: a case's timeline and its export as standalone HTML (styles inline, no
scripts, nothing fetched), and as PDF printed by headless Chromium."""

import asyncio
import shutil
import tempfile
from pathlib import Path

from api.web import templates
from service.audit import CaseExport, CaseTimeline

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class PdfUnavailable(Exception):
    pass


def timeline_html(timeline: CaseTimeline) -> str:
    return templates.env.get_template("documents/timeline.html").render(timeline=timeline)


def export_html(export: CaseExport) -> str:
    return templates.env.get_template("documents/export.html").render(export=export)


async def html_to_pdf(html: str) -> bytes:
    """The document printed to PDF by a headless Chromium from this machine (Debian's `chromium`)."""
    browser = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
    if browser is None:
        raise PdfUnavailable("printing to PDF needs Chromium (apt-get install chromium); the HTML has it all")
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "document.html", Path(folder) / "document.pdf"
        source.write_text(html, encoding="utf-8")
        printing = await asyncio.create_subprocess_exec(
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
            f"--user-data-dir={Path(folder) / 'profile'}", f"--print-to-pdf={target}", source.as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, errors = await printing.communicate()
        if printing.returncode != 0 or not target.exists():
            raise PdfUnavailable(f"Chromium could not print the PDF: {errors.decode(errors='replace')[-300:]}")
        return target.read_bytes()
