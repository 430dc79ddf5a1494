"""Lighthouse 12 (mobile, the default form factor) on the served site, gzipped as GitHub Pages serves it, with
Debian's Chromium: 100 for accessibility, best practices and SEO; performance, a timing, is printed.

    npm ci                                   # installs lighthouse from package-lock.json
    .venv/bin/python -m pytest tests/test_lighthouse.py -s
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import CHROMIUM, CHROMIUM_ARGS
from reader_helpers import ARTIFACTS

LIGHTHOUSE = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


@pytest.fixture(scope="module")
def report(server, tmp_path_factory):
    """One Lighthouse run over index.html; the JSON report, also kept as tests/artifacts/lighthouse.json."""
    assert LIGHTHOUSE.exists(), f"{LIGHTHOUSE} is missing: run `npm ci` in the repository root"
    out = tmp_path_factory.mktemp("lighthouse") / "report.json"
    process = subprocess.run(
        [str(LIGHTHOUSE), server + "index.html", "--quiet", "--form-factor=mobile", "--output=json",
         f"--output-path={out}",
         f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags=--headless {' '.join(CHROMIUM_ARGS)}"],
        env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, f"lighthouse failed:\n{process.stderr[-3000:]}"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "lighthouse.json").write_bytes(out.read_bytes())
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["configSettings"]["formFactor"] == "mobile"
    return report


def failing_audits(report, category):
    """The weighted audits of a category that did not score 1: id, title and a few offending nodes."""
    failing = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 1:
            items = (audit.get("details") or {}).get("items") or []
            nodes = [item.get("node", {}).get("snippet") or item.get("url") for item in items[:3]]
            failing.append(f"{ref['id']} ({audit['score']}): {audit['title']} {nodes}")
    return failing


@pytest.mark.parametrize("category", ["accessibility", "best-practices", "seo"])
def test_lighthouse_scores_100(report, category):
    """Lighthouse gives the page full marks for accessibility, best practices and SEO, on a phone, with the
    text gzipped as GitHub Pages sends it (conftest's server does the same, and the report must say so)."""
    assert report["audits"]["uses-text-compression"]["score"] == 1, "text is sent uncompressed"
    score = report["categories"][category]["score"]
    failing = failing_audits(report, category)
    print(f"\n{category}: {score}" + "".join(f"\n  {line}" for line in failing))
    assert score == 1, f"{category} scores {score}; failing audits:\n" + "\n".join(failing)


def test_lighthouse_performance_is_measured(report):
    """The performance score is reported (printed, not asserted: it times the page's load, so a busy machine
    costs it points; it scores 1 when the machine is idle), with the audits that cost points."""
    score = report["categories"]["performance"]["score"]
    print(f"\nperformance: {score}" + "".join(f"\n  {line}" for line in failing_audits(report, "performance")))
    assert score is not None and 0 <= score <= 1
