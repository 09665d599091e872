"""The briefing workbook printed by LibreOffice headless (Debian ``libreoffice-calc``) to PDF:
it converts without error, the cover shows its values on one page, and the page count is that
of a briefing, not of a data dump."""

from __future__ import annotations

import shutil
import subprocess

import openpyxl
import pytest

from phusong.bundle import fingerprint
from phusong.maps._example import example_bundle, write_example_plan
from phusong.maps.briefing import write_briefing

pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module")
def soffice() -> str:
    for name in ("soffice", "libreoffice"):
        exe = shutil.which(name)
        if exe:
            return exe
    pytest.skip("LibreOffice not found: install Debian libreoffice-calc (.ci/run does)")


def to_pdf(soffice: str, xlsx, out_dir):
    """Convert ``xlsx`` with LibreOffice headless (own profile: no clash with a running one)."""
    profile = (out_dir / "lo-profile").as_uri()
    run = subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless",
                          "--convert-to", "pdf", "--outdir", str(out_dir), str(xlsx)],
                         capture_output=True, text=True, timeout=600, check=False)
    pdf = out_dir / (xlsx.stem + ".pdf")
    assert run.returncode == 0 and pdf.is_file(), (run.returncode, run.stdout, run.stderr)
    return pdf


def test_workbook_prints_as_a_briefing(soffice, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    b = example_bundle()
    plan = write_example_plan(b, tmp_path / "plan")
    write_briefing(b, None, plan, tmp_path / "pack", lang="vi")
    xlsx = tmp_path / "pack" / "briefing.xlsx"
    sheets = openpyxl.load_workbook(xlsx).sheetnames
    reader = pypdf.PdfReader(to_pdf(soffice, xlsx, tmp_path))
    pages = [p.extract_text() for p in reader.pages]
    print(f"{len(pages)} pages for {len(sheets)} sheets")
    # every sheet of the example is a few rows, fitted to the page width: one page each,
    # except the two chart sheets (charts then PNGs below them: up to 3 pages each)
    assert len(sheets) <= len(pages) <= len(sheets) + 4, (len(pages), sheets)
    # the cover, on one page, with its values beside the labels (not labels alone)
    assert "Bìa | Cover" in pages[0] and "Bìa | Cover" not in pages[1]
    assert fingerprint(b) in pages[0] and "Ví dụ / example" in pages[0]
    assert "4,100,000,000" not in pages[0]  # assumptions are on their own sheet
    # each sheet starts on its own page, in order, named in the page header
    starts = [next(i for i, t in enumerate(pages) if t.startswith(name)) for name in sheets]
    assert starts == sorted(starts)
    # header rows repeat on each printed page of a table (here: every table page has them)
    communes = [t for t in pages if t.startswith("Xã | Communes")]
    assert communes and all("Unit code" in t for t in communes)
