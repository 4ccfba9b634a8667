"""The report's first screen in a real headless Chromium, at a laptop's and a phone's size.

A synthetic 200-call run against two endpoints with two callers (four cards): the verdict and the scorecard must be
on the first screen, the scorecard must not overflow sideways, the page must log no
error, and the filters must change which calls are shown. Screenshots are saved in the
test's tmp dir; every assertion message names them, so a failure can be looked at.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from report.report_synth import make_rich_run

from harness.gate import gate_and_report
from harness.records import CallerKind
from harness.report.context import read_context
from harness.slo.rules import parse_slo

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SIZES = ((1366, 768), (390, 844))
N_CALLS = 200
SLO = ('[[slo]]\nname = "p95 per card"\nmetric = "turn_latency_ms"\nstat = "p95"\nmax = 650\n'
       'by = ["endpoint", "caller"]\n'
       '[[slo]]\nname = "cutoffs"\nmetric = "cutoff"\nstat = "rate"\nmax = 0.4\nby = ["endpoint", "caller"]\n')

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
                                reason="no system chromium (see ci/ensure-chromium.sh)")

OVERFLOW = """() => {
  const over = (el) => el.scrollWidth > el.clientWidth + 1;
  const card = document.querySelector('#scorecard');
  return {
    scorecard: over(card),
    cards: [...card.querySelectorAll('.card')].filter(over).map((c) => c.querySelector('h3').textContent),
    cells: [...card.querySelectorAll('.card td, .card th')].filter((c) => {
      const style = getComputedStyle(c);
      const inner = c.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const range = document.createRange();
      range.selectNodeContents(c);  // the content's own extent: hidden or spilled text shows here
      return c.scrollWidth > c.clientWidth + 1 || range.getBoundingClientRect().width > inner + 1;
    }).map((c) => c.textContent.trim()),
    page: document.documentElement.scrollWidth > window.innerWidth,
  };
}"""


def _visible_calls(page: Any) -> int:
    return int(page.eval_on_selector_all("details.call", "els => els.filter(e => !e.hidden).length"))


def test_first_screen_at_two_sizes(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    truth = make_rich_run(tmp_path, n_calls=N_CALLS, callers=(CallerKind.AIORTC, CallerKind.BROWSER))
    paths = gate_and_report(truth.folder.path, slo=parse_slo(SLO))
    ctx = read_context(truth.folder.path)
    failed = sum(1 for c in ctx.calls if not c.ok)
    disturbed = sum(1 for c in ctx.calls if c.disturbed)
    not_ok = sum(1 for c in ctx.calls if not c.ok or c.disturbed)
    assert failed and disturbed and not_ok < failed + disturbed  # some calls are both
    b_ids = [cid for (endpoint, _), ids in truth.calls.items() if endpoint == "vendor-b" for cid in ids]
    b_calls = len(b_ids)
    b_pauses = sum(1 for cid in b_ids if truth.scenario_of[cid] == "pause_sweep")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, height in SIZES:
                page = browser.new_page(viewport={"width": width, "height": height})
                errors: list[str] = []
                page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                page.goto(paths.html.as_uri())
                page.wait_for_load_state("load")
                shot = tmp_path / f"first-screen-{width}x{height}.png"
                page.screenshot(path=str(shot))
                page.screenshot(path=str(tmp_path / f"full-page-{width}x{height}.png"), full_page=True)
                seen = f"(screenshot: {shot})"

                status = page.locator("#status").bounding_box()
                card = page.locator("#scorecard").bounding_box()
                first = page.locator("#scorecard .card").first.bounding_box()
                assert status is not None and card is not None and first is not None, seen
                assert page.locator("#status").inner_text() == "failed", seen
                assert status["y"] >= 0 and status["y"] + status["height"] <= height, f"verdict below the fold {seen}"
                assert page.locator("#scorecard .card").count() == 4, seen  # 2 endpoints x 2 callers
                if width >= 1000:  # a laptop: the whole scorecard, the four cards side by side
                    assert card["y"] + card["height"] <= height, f"scorecard ends at {card} {seen}"
                    tops = {page.locator("#scorecard .card").nth(i).bounding_box()["y"] for i in range(4)}  # type: ignore[index]
                    assert len(tops) == 1, f"cards not side by side: tops {tops} {seen}"
                else:  # a phone: the first card whole on the first screen, the rest below
                    assert first["y"] + first["height"] <= height, f"first card ends at {first} {seen}"
                overflow = page.evaluate(OVERFLOW)
                assert overflow == {"scorecard": False, "cards": [], "cells": [], "page": False}, f"{overflow} {seen}"

                # filters: endpoint, then endpoint + scenario, then status
                assert _visible_calls(page) == N_CALLS, seen
                page.select_option("#filter-endpoint", "vendor-b")
                assert _visible_calls(page) == b_calls, seen
                assert page.locator("#scorecard .card:visible").count() == 2, seen
                assert page.locator("#filter-count").inner_text() == f"showing {b_calls} of {N_CALLS} calls", seen
                page.select_option("#filter-scenario", "pause_sweep")
                assert _visible_calls(page) == b_pauses, seen
                page.select_option("#filter-endpoint", "")
                page.select_option("#filter-scenario", "")
                for status, expected in (("failed", failed), ("disturbed", disturbed), ("ok", N_CALLS - not_ok),
                                         ("not-ok", not_ok)):
                    page.select_option("#filter-status", status)
                    assert _visible_calls(page) == expected, f"status {status} {seen}"
                filtered = tmp_path / f"filtered-{width}x{height}.png"
                page.locator("#filters").scroll_into_view_if_needed()
                page.screenshot(path=str(filtered))
                assert page.locator("#scorecard .card:visible").count() == 4, f"(screenshot: {filtered})"
                assert errors == [], f"{errors} {seen}"
                page.close()
        finally:
            browser.close()
