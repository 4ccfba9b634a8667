"""The report's network-robustness section: each endpoint's metrics against the profile.

A run over a ladder of network profiles (``--network-ladder clean,4g,3g-lossy,congested``)
holds the same scenarios once per profile; this section puts them side by side: per
endpoint, turn latency (p50, and as heard for the browser caller), cutoff rate,
barge-in stop latency, PESQ and WER against the profile, one line per caller, plus
what the relay actually applied (loss, one-way delay) so a reader sees the network the
numbers came from. Profiles are ordered by their ladder step (then name); calls made
without an emulated network appear as ``direct``. Render only: everything comes from
the recordings and measurements in the run folder.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from harness.records import CallerKind, LinkApplied
from harness.report.context import CallEntry, ReportContext
from harness.report.plots import png

__all__ = ["PANELS", "NetworkRow", "NetworkSection", "network_section"]

DIRECT = "direct"
"""The x position of calls made without an emulated network."""


@dataclass(frozen=True, slots=True)
class Panel:
    metric: str
    title: str
    unit: str
    stat: str
    """``p50`` or ``mean`` (a rate is the mean of 0/1 values)."""


PANELS = (
    Panel("turn_latency_ms", "turn latency p50", "ms", "p50"),
    Panel("turn_latency_heard_ms", "turn latency as heard p50", "ms", "p50"),
    Panel("cutoff", "cutoff rate", "", "mean"),
    Panel("barge_in_stop_ms", "barge-in stop p50", "ms", "p50"),
    Panel("pesq_wb", "PESQ-WB mean", "MOS", "mean"),
    Panel("reply_wer", "WER mean", "", "mean"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkRow:
    """One (endpoint, caller, profile) cell of the section's table."""

    endpoint: str
    caller: str
    profile: str
    calls: int
    values: dict[str, float | None]
    """Panel metric -> its statistic over the group's measurements."""
    loss_up: float | None
    loss_down: float | None
    delay_up_ms: float | None
    delay_down_ms: float | None

    @property
    def applied_loss(self) -> str:
        return " / ".join("-" if v is None else f"{100 * v:.1f}%" for v in (self.loss_up, self.loss_down))

    @property
    def applied_delay(self) -> str:
        return " / ".join("-" if v is None else f"{v:.0f} ms" for v in (self.delay_up_ms, self.delay_down_ms))


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkSection:
    profiles: tuple[str, ...]
    rows: tuple[NetworkRow, ...]
    figures: dict[str, bytes]
    """endpoint -> PNG of its panels."""


def _profile_key(call: CallEntry) -> tuple[int, str]:
    net = call.recording.network if call.recording is not None else None
    if net is None:
        return (-1, DIRECT)
    step = net.profile.ladder_step
    return (step if step is not None else 1_000_000, net.profile.name)


def _stat(values: Sequence[float], stat: str) -> float | None:
    if not values:
        return None
    return statistics.median(values) if stat == "p50" else statistics.fmean(values)


def _applied(links: Sequence[LinkApplied]) -> tuple[float | None, float | None]:
    packets = sum(link.packets for link in links)
    delays = [link.delay_p50_ms for link in links if link.delay_p50_ms is not None]
    loss = sum(link.lost for link in links) / packets if packets else None
    return loss, statistics.median(delays) if delays else None


def network_section(ctx: ReportContext) -> NetworkSection | None:
    """The section, or ``None`` when no call of the run went through an emulated network."""
    calls = [c for c in ctx.calls if c.recording is not None]
    if not any(c.recording is not None and c.recording.network is not None for c in calls):
        return None
    groups: dict[tuple[str, str, tuple[int, str]], list[CallEntry]] = defaultdict(list)
    for call in calls:
        assert call.recording is not None
        groups[(call.recording.endpoint, str(call.recording.caller), _profile_key(call))].append(call)
    keys = sorted({key for _, _, key in groups})
    profiles = tuple(name for _, name in keys)
    rows = []
    for (endpoint, caller, key), members in sorted(groups.items()):
        values = {}
        for panel in PANELS:
            found = [m.value for c in members for m in c.measurements if m.metric == panel.metric and m.value is not None]
            values[panel.metric] = _stat(found, panel.stat)
        nets = [c.recording.network for c in members if c.recording is not None and c.recording.network is not None]
        loss_up, delay_up = _applied([n.up for n in nets])
        loss_down, delay_down = _applied([n.down for n in nets])
        rows.append(NetworkRow(endpoint=endpoint, caller=caller, profile=key[1], calls=len(members), values=values,
                               loss_up=loss_up, loss_down=loss_down, delay_up_ms=delay_up, delay_down_ms=delay_down))
    figures = {endpoint: _figure([r for r in rows if r.endpoint == endpoint], profiles)
               for endpoint in sorted({r.endpoint for r in rows})}
    return NetworkSection(profiles=profiles, rows=tuple(rows), figures=figures)


def _figure(rows: Sequence[NetworkRow], profiles: Sequence[str]) -> bytes:
    """One small panel per metric that has any value; x = profile, one line per caller."""
    panels = [p for p in PANELS if any(r.values.get(p.metric) is not None for r in rows)]
    fig = Figure(figsize=(3.2 * max(1, len(panels)), 3.0), layout="constrained")
    x = {name: i for i, name in enumerate(profiles)}
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for caller in sorted({r.caller for r in rows}):
            points: list[tuple[int, float]] = sorted(
                (x[r.profile], value) for r in rows
                if r.caller == caller and (value := r.values.get(panel.metric)) is not None)
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                        linestyle="-" if caller == CallerKind.AIORTC else "--", label=caller)
        ax.set_xticks(range(len(profiles)), profiles, rotation=30, ha="right", fontsize="small")
        ax.set_title(panel.title + (f" [{panel.unit}]" if panel.unit else ""), fontsize="small")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize="small")
    return png(fig)
