"""index.html in a real headless Chromium: no console errors, plots, audio that plays,
and endpoint text shown escaped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from report.report_synth import HOSTILE, make_run

from harness.gate import gate_and_report
from harness.slo.rules import parse_slo

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
                                reason="no system chromium (see ci/ensure-chromium.sh)")


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    folder = make_run(tmp_path)
    baseline = make_run(tmp_path, run_id="base")
    slo = parse_slo('[[slo]]\nmetric = "turn_latency_ms"\nstat = "p95"\nmax = 800\nmin_samples = 1\n')
    paths = gate_and_report(folder.path, slo=slo, baseline=baseline.path)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(paths.html.as_uri())
            page.wait_for_load_state("load")
            # plots: one latency CDF, the cutoff curve, one timeline per call, all decoded
            widths = page.eval_on_selector_all("img.plot", "els => els.map(e => e.naturalWidth)")
            assert len(widths) >= 1 + 1 + 3 and all(w > 100 for w in widths)
            assert page.locator("#cutoff-curve").count() == 1
            assert page.locator("audio").count() == 9  # 3 calls x (mix, caller, received)
            assert page.locator("#verdicts").inner_text().count("pass") >= 1
            assert page.locator("#baseline-diff").count() == 1
            # the hostile transcript is text, not markup
            assert page.evaluate("window.__pwned") is None
            page.evaluate("document.querySelector('#call-c0').open = true")
            assert HOSTILE in page.locator("#call-c0 .transcripts").inner_text()
            assert page.locator("#call-c0 .transcripts script").count() == 0
            # one audio element plays: currentTime advances
            page.evaluate("document.querySelector('#call-c0').open = true")
            t = page.evaluate("""async () => {
                const a = document.querySelector('#call-c0 audio');
                a.muted = true; await a.play();
                await new Promise(r => setTimeout(r, 600));
                return a.currentTime; }""")
            assert t > 0.2
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
