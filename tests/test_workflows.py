"""The GitHub Actions workflows pass zizmor's offline audit at its default settings, with the one
relaxation .github/zizmor.yml allows: GitHub's own actions/* pinned by tag.

    .venv/bin/zizmor --offline .github/workflows/       # what the first test runs
"""
import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

ZIZMOR = Path(sys.executable).with_name("zizmor")
CONFIG = REPO / ".github" / "zizmor.yml"


def zizmor(*args, cwd=REPO):
    assert ZIZMOR.exists(), f"{ZIZMOR} is missing: pip install -e '.[test]'"
    return subprocess.run([str(ZIZMOR), "--offline", "--no-progress", "--color=never", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_zizmor_finds_nothing_in_the_workflows():
    """`zizmor --offline .github/workflows/` reports no finding (exit 0) on the committed workflows."""
    assert list((REPO / ".github" / "workflows").glob("*.yml")), "no workflow to audit"
    process = zizmor(".github/workflows/")
    assert process.returncode == 0, process.stdout + process.stderr
    assert "No findings to report" in process.stdout, process.stdout


def test_the_configuration_relaxes_pinning_for_githubs_own_actions_only(tmp_path):
    """With the committed configuration, actions/checkout pinned by tag passes but a third-party action
    pinned by tag is still reported: the relaxation is no blanket exemption."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "probe.yml").write_text("""\
name: Probe
on: [push]
permissions: {}
jobs:
  probe:
    name: Probe
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v7
        with:
          persist-credentials: false
      - uses: someone-else/an-action@v1
""")
    process = zizmor("--config", CONFIG, "--format", "json", ".github/workflows/", cwd=tmp_path)
    findings = json.loads(process.stdout)
    flagged = [(f["ident"], location["concrete"]["feature"]) for f in findings for location in f["locations"]
               if location["symbolic"]["kind"] == "Primary"]
    assert flagged == [("unpinned-uses", "someone-else/an-action@v1")], process.stdout
