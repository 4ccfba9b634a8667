"""The network-robustness section: grouping by profile in ladder order, the figures, the page."""

from __future__ import annotations

from pathlib import Path

from harness.network.profiles import parse_ladder
from harness.records import (
    CallerKind,
    CallRecording,
    LinkApplied,
    Measurement,
    NetworkApplied,
    NetworkProfile,
)
from harness.report.context import CallEntry, ReportContext
from harness.report.html import render_html
from harness.report.network import network_section

LADDER = parse_ladder("clean,4g,3g-lossy,congested")


def _call(i: int, profile: NetworkProfile | None, caller: CallerKind, latency: float, pesq: float,
          endpoint: str = "agent") -> CallEntry:
    call_id = f"c{i}"
    network = None if profile is None else NetworkApplied(
        profile=profile,
        up=LinkApplied(packets=100, lost=i % 4, delay_p50_ms=10.0 * i),
        down=LinkApplied(packets=100, lost=0, delay_p50_ms=10.0 * i),
    )
    rec = CallRecording(call_id=call_id, scenario_id="s", endpoint=endpoint, caller=caller, network=network)

    def m(metric: str, value: float, unit: str = "ms", turn: int = 0) -> Measurement:
        return Measurement(call_id=call_id, scenario="s", endpoint=endpoint, caller=caller, repeat=0,
                           turn=turn, metric=metric, value=value, unit=unit)

    ms = (m("turn_latency_ms", latency), m("turn_latency_ms", latency + 20, turn=1),
          m("cutoff", float(i % 2), "bool"), m("pesq_wb", pesq, "MOS"))
    return CallEntry(call_id=call_id, path=Path("/nonexistent") / call_id, recording=rec, scenario=None,
                     measurements=ms)


def test_rows_follow_the_ladder_and_the_page_shows_them() -> None:
    # deliberately out of order: the section orders by ladder step, not by call order
    calls = [_call(i, LADDER[step], caller, 500.0 + 100 * step, 4.5 - step)
             for i, (step, caller) in enumerate([(3, CallerKind.AIORTC), (0, CallerKind.AIORTC),
                                                 (2, CallerKind.AIORTC), (1, CallerKind.AIORTC),
                                                 (0, CallerKind.BROWSER), (3, CallerKind.BROWSER)])]
    ctx = ReportContext(run_dir=Path("/nonexistent"), info=None, measurements=(), calls=tuple(calls))
    section = network_section(ctx)
    assert section is not None
    assert section.profiles == ("clean", "4g", "3g-lossy", "congested")
    aiortc = [r for r in section.rows if r.caller == "aiortc"]
    assert [r.profile for r in aiortc] == ["clean", "4g", "3g-lossy", "congested"]
    assert [r.values["turn_latency_ms"] for r in aiortc] == [510.0, 610.0, 710.0, 810.0]  # p50 of two turns
    assert [r.values["pesq_wb"] for r in aiortc] == [4.5, 3.5, 2.5, 1.5]
    assert aiortc[0].values["barge_in_stop_ms"] is None
    congested = aiortc[-1]
    assert congested.applied_loss == "0.0% / 0.0%" and congested.applied_delay == "0 ms / 0 ms"  # call c0
    assert aiortc[1].applied_loss == "3.0% / 0.0%" and aiortc[1].applied_delay == "30 ms / 30 ms"  # call c3
    assert set(section.figures) == {"agent"} and section.figures["agent"].startswith(b"\x89PNG")
    html = render_html(ctx)
    assert 'id="network"' in html and "clean → 4g → 3g-lossy → congested" in html
    assert html.count("<tr><td>agent</td>") == len(section.rows)


def test_direct_calls_come_first_and_a_run_without_a_network_has_no_section() -> None:
    calls = [_call(0, None, CallerKind.AIORTC, 400.0, 4.5), _call(1, LADDER[1], CallerKind.AIORTC, 500.0, 3.0)]
    ctx = ReportContext(run_dir=Path("/x"), info=None, measurements=(), calls=tuple(calls))
    section = network_section(ctx)
    assert section is not None and section.profiles == ("direct", "4g")
    plain = ReportContext(run_dir=Path("/x"), info=None, measurements=(), calls=(calls[0],))
    assert network_section(plain) is None
    assert 'id="network"' not in render_html(plain)
