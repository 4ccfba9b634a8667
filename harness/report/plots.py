"""The report's figures as PNG bytes (matplotlib, Agg, no pyplot state).

Figures are built on ``matplotlib.figure.Figure`` directly, not pyplot, so nothing
global is kept between calls (a 200-call report draws 200 timelines) and the module
is safe in a worker thread. Waveforms are drawn as min/max envelopes over a fixed
number of columns, so a timeline costs the same for a 5 s call and a 5 min one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from harness.records import CallRecording, Measurement, Timeline

__all__ = ["CUTOFF_PAUSE", "cdf_png", "cutoff_curve_png", "png", "timeline_png"]

CUTOFF_PAUSE = re.compile(r"^cutoff_pause_(\d+)ms$")
"""The endpointing family's per-pause cutoff metric (``cutoff_pause_700ms``)."""

_COLUMNS = 1200


def _png(fig: Figure, dpi: int = 80) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


png = _png
"""A figure as PNG bytes, for the report's other figure modules."""


def cdf_png(metric: str, unit: str, groups: Mapping[str, Sequence[float]]) -> bytes:
    """Empirical CDF of one metric, one line per group (endpoint/caller)."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for label, values in sorted(groups.items()):
        xs = np.sort(np.asarray(values, dtype=np.float64))
        if xs.size == 0:
            continue
        ys = np.arange(1, xs.size + 1) / xs.size
        ax.step(xs, ys, where="post", label=f"{label} (n={xs.size})")
    ax.set_xlabel(f"{metric} [{unit}]" if unit else metric)
    ax.set_ylabel("fraction ≤ x")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return _png(fig)


def cutoff_points(measurements: Sequence[Measurement]) -> dict[str, dict[int, tuple[int, int]]]:
    """group -> pause ms -> (cutoffs, n) from the ``cutoff_pause_<ms>ms`` metrics."""
    out: dict[str, dict[int, tuple[int, int]]] = {}
    for m in measurements:
        match = CUTOFF_PAUSE.match(m.metric)
        if match is None or m.value is None or np.isnan(m.value):
            continue
        per = out.setdefault(f"{m.endpoint}/{m.caller}", {})
        hits, n = per.get(int(match.group(1)), (0, 0))
        per[int(match.group(1))] = (hits + int(m.value >= 0.5), n + 1)
    return out


def cutoff_curve_png(points: dict[str, dict[int, tuple[int, int]]]) -> bytes:
    """False-cutoff rate against pause length: the endpointing trade-off curve."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for label, per in sorted(points.items()):
        pauses = sorted(per)
        rates = [per[p][0] / per[p][1] for p in pauses]
        ax.plot(pauses, rates, marker="o", label=label)
        for p, r in zip(pauses, rates, strict=True):
            ax.annotate(f"n={per[p][1]}", (p, r), fontsize=7, textcoords="offset points", xytext=(0, 5))
    ax.set_xlabel("pause inside the caller's turn [ms]")
    ax.set_ylabel("cutoff rate")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _png(fig)


def _envelope(audio: NDArray[np.floating], rate: int, end_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Min/max per column over ``end_s`` seconds; past the audio's end the columns are 0.

    Only the samples that exist are touched: a call that claims a long duration with
    little audio costs its audio, not a zero-padded copy of the whole duration.
    """
    n_total = max(1, int(end_s * rate))
    cols = min(_COLUMNS, n_total)
    block = n_total // cols
    usable = block * cols
    x = np.asarray(audio[: min(audio.size, usable)], dtype=np.float64)
    lo = np.zeros(cols, dtype=np.float64)
    hi = np.zeros(cols, dtype=np.float64)
    full = x.size // block
    if full:
        blocks = x[: full * block].reshape(full, block)
        lo[:full], hi[:full] = blocks.min(axis=1), blocks.max(axis=1)
    rest = x[full * block:]
    if rest.size:  # a partly filled column: the missing samples are silence (0)
        lo[full], hi[full] = min(float(rest.min()), 0.0), max(float(rest.max()), 0.0)
    t = (np.arange(cols) + 0.5) * (usable / cols) / rate
    return t, lo, hi


def timeline_png(
    recording: CallRecording,
    caller_audio: NDArray[np.floating],
    received_audio: NDArray[np.floating],
    timeline: Timeline | None,
    turns: Sequence[Measurement] = (),
    *,
    dpi: int = 72,
) -> bytes:
    """Caller and agent waveforms on the call clock with speech segments, events and turns."""
    rate = recording.sample_rate
    end_s = max(recording.duration_ns / 1e9, caller_audio.size / rate, received_audio.size / rate, 0.1)
    fig = Figure(figsize=(10, 2.6))  # fixed margins: constrained layout costs ~0.4 s a figure
    ax_c, ax_a = fig.subplots(2, 1, sharex=True)
    fig.subplots_adjust(left=0.07, right=0.99, top=0.97, bottom=0.17, hspace=0.08)
    for ax, audio, colour, name in ((ax_c, caller_audio, "#1f77b4", "caller"),
                                    (ax_a, received_audio, "#d62728", "agent")):
        t, lo, hi = _envelope(np.asarray(audio, dtype=np.float64).reshape(-1), rate, end_s)
        ax.fill_between(t, lo, hi, color=colour, linewidth=0, alpha=0.8)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.grid(axis="x", alpha=0.3)
    # The caller's ends as the metrics had them (the run's caller-end definition).
    said = timeline.caller_speech if timeline is not None else recording.sent
    for u in said:
        ax_c.axvspan(u.speech_start_ns / 1e9, u.speech_end_ns / 1e9, color="#1f77b4", alpha=0.12)
        ax_c.text(u.start_ns / 1e9, 0.75, f"{u.step_index}:{u.utterance_id}", fontsize=7)
    if timeline is not None:
        for seg in timeline.agent_speech:
            ax_a.axvspan(seg.start_ns / 1e9, seg.end_ns / 1e9, color="#d62728", alpha=0.12)
    for ev in recording.events:
        ax_a.axvline(ev.t_ns / 1e9, color="#2ca02c", alpha=0.5, linewidth=0.8)
    for m in turns:
        if m.turn is None or m.value is None or not m.metric.endswith("latency_ms"):
            continue
        sent = next((u for u in said if u.step_index == m.turn), None)
        if sent is None:
            continue
        x0 = sent.speech_end_ns / 1e9
        colour = "#d62728" if m.passed is False else "#333333"
        ax_a.annotate("", xy=(x0 + m.value / 1000, -0.85), xytext=(x0, -0.85),
                      arrowprops={"arrowstyle": "->", "color": colour, "lw": 1})
        ax_a.text(x0, -0.7, f"{m.value:.0f} ms", fontsize=7, color=colour)
    if recording.failure is not None and recording.failure.t_ns is not None:
        ax_a.axvline(recording.failure.t_ns / 1e9, color="black", linestyle="--")
    ax_a.set_xlim(min(0.0, (recording.connected_ns or 0) / 1e9), end_s)
    ax_a.set_xlabel("call time [s]")
    return _png(fig, dpi=dpi)
