"""``endpoints check``: one short connect-speak-listen call that says what works.

The first thing a user runs against a new endpoint. Instead of a run folder and a
pass/fail, it answers "how far did we get?": signalling, media (ICE + DTLS), audio
out, audio in, a reply, the events the endpoint sent. Each answer is read off the same
``CallRecording`` and ``score_call`` measurements a real run produces, so the probe
cannot disagree with what ``run`` would report about the same call.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from rich.table import Table
from rich.text import Text

from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import CallArtifacts, Caller, CallerSettings
from harness.callers.script import PlayerSettings
from harness.callers.websocket import WebSocketCaller
from harness.corpus.model import Corpus
from harness.endpoints.config import endpoint_redactor
from harness.endpoints.transport import caller_for
from harness.metrics.breakdown import ENDPOINTING_DELAY, GENERATION_DELAY
from harness.metrics.latency import NO_RESPONSE, TURN_LATENCY
from harness.network.profiles import describe
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    EndpointSpec,
    Failure,
    FailureKind,
    LinkApplied,
    Measurement,
    NetworkApplied,
    NetworkProfile,
    Scenario,
    Step,
    StepKind,
)
from harness.redact import SecretRedactor
from harness.scoring import score_call

__all__ = [
    "CheckItem",
    "CheckReport",
    "CheckSettings",
    "CheckStatus",
    "probe_scenario",
    "report_from_call",
    "run_check",
]

PROBE_SCENARIO_ID = "endpoint-check"

_SIGNALLING_FAILURES = frozenset({
    FailureKind.OFFER_REFUSED, FailureKind.SIGNALLING_ERROR, FailureKind.CONNECT_ERROR,
    FailureKind.ENDPOINT_HUNG,
})
"""Failures raised before an answer SDP was applied: signalling did not work."""


class CheckStatus(StrEnum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"
    """Reported for the reader, not judged (events seen: WHIP has none by design)."""
    SKIPPED = "skipped"
    """Not reached, because an earlier stage failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckItem:
    name: str
    status: CheckStatus
    detail: str
    """Endpoint-provided text in it is already redacted; printed literally (no markup)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    endpoint: str
    dialect: str
    url: str
    """Redacted."""
    items: tuple[CheckItem, ...]
    failure: Failure | None = None

    REQUIRED = ("signalling", "media connected", "audio out", "audio in", "agent replied")
    """What must be OK for the endpoint to be usable by the harness (exit 0)."""

    @property
    def ok(self) -> bool:
        by_name = {i.name: i.status for i in self.items}
        return all(by_name.get(name) is CheckStatus.OK for name in self.REQUIRED)

    def item(self, name: str) -> CheckItem:
        return next(i for i in self.items if i.name == name)

    def table(self) -> Table:
        """The report as a rich table (every cell a ``Text``, so ``[...]`` in a vendor
        message is printed, never interpreted as markup)."""
        verdict = "usable" if self.ok else "NOT usable"
        table = Table(
            title=Text(f"{self.endpoint} ({self.dialect}) {self.url}: {verdict}"),
            show_lines=False,
        )
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        styles = {CheckStatus.OK: "green", CheckStatus.FAIL: "red", CheckStatus.INFO: "cyan",
                  CheckStatus.SKIPPED: "yellow"}
        for item in self.items:
            table.add_row(Text(item.name), Text(item.status.value, style=styles[item.status]),
                          Text(item.detail))
        return table


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSettings:
    utterance: str = "q_time"
    """Corpus id of what the probe says."""
    reply_timeout_ms: int = 5000
    signalling_timeout_s: float = 10.0
    connect_timeout_s: float = 15.0
    max_reply_s: float = 10.0
    """A reply longer than this is cut short: the probe needs its onset, not all of it."""
    network: NetworkProfile | None = None
    """Probe through the emulated network (``--network``); the table says what it did."""

    @property
    def overall_timeout_s(self) -> float:
        """A last-resort bound on the whole probe, past every timeout the caller keeps."""
        return (self.signalling_timeout_s + self.connect_timeout_s + self.reply_timeout_ms / 1000
                + self.max_reply_s + 30.0)


def probe_scenario(settings: CheckSettings) -> Scenario:
    step = Step(index=0, kind=StepKind.SAY, utterance=settings.utterance,
                timeout_ms=settings.reply_timeout_ms)
    return Scenario(id=PROBE_SCENARIO_ID, steps=(step,),
                    description="endpoints check: say one question, wait for a reply")


async def run_check(spec: EndpointSpec, corpus: Corpus, settings: CheckSettings | None = None) -> CheckReport:
    """Call the endpoint once and report what worked; never raises for endpoint faults.

    ``corpus.get(settings.utterance)`` failing is reported as a failed probe too; the CLI
    checks it first so a bad ``--utterance`` is a usage error instead.
    """
    settings = settings or CheckSettings()
    scenario = probe_scenario(settings)
    caller_settings = CallerSettings(
        signalling_timeout_s=settings.signalling_timeout_s,
        connect_timeout_s=settings.connect_timeout_s,
        player=PlayerSettings(max_reply_s=settings.max_reply_s),
        network=settings.network,
    )
    kind = caller_for(spec.dialect, CallerKind.AIORTC)
    caller: Caller = (WebSocketCaller(corpus, caller_settings) if kind is CallerKind.WEBSOCKET
                      else AiortcCaller(corpus, caller_settings))
    call = CallSpec(call_id=PROBE_SCENARIO_ID, scenario=scenario, endpoint=spec, caller=kind)
    try:
        artifacts = await asyncio.wait_for(caller.run(call), settings.overall_timeout_s)
    except TimeoutError:
        return _hung_report(spec, settings)
    return report_from_call(spec, scenario, artifacts)


def _hung_report(spec: EndpointSpec, settings: CheckSettings) -> CheckReport:
    failure = Failure(kind=FailureKind.ENDPOINT_HUNG,
                      reason=f"the probe did not finish within {settings.overall_timeout_s:g} s")
    items = [CheckItem(name=name, status=CheckStatus.FAIL if name == "signalling" else CheckStatus.SKIPPED,
                       detail=failure.reason if name == "signalling" else "")
             for name in CheckReport.REQUIRED]
    items.append(CheckItem(name="failures", status=CheckStatus.FAIL, detail=f"{failure.kind}: {failure.reason}"))
    return CheckReport(endpoint=spec.name, dialect=str(spec.dialect), url=_redact(spec)(spec.url),
                       items=tuple(items), failure=failure)


def report_from_call(spec: EndpointSpec, scenario: Scenario, artifacts: CallArtifacts) -> CheckReport:
    """What worked in one finished probe call (pure: testable on a saved recording)."""
    rec = artifacts.recording
    redact = _redact(spec)
    measurements: tuple[Measurement, ...] = ()
    if artifacts.received_audio.size:
        measurements = score_call(rec, scenario, artifacts.received_audio,
                                  caller_audio=artifacts.caller_audio).measurements
    failure = rec.failure
    signalled = failure is None or failure.kind not in _SIGNALLING_FAILURES
    items = [
        _signalling(rec, signalled, redact),
        _media(rec, signalled),
        _audio_out(rec),
        _audio_in(rec),
        _reply(rec, measurements),
        _events(rec),
    ]
    if rec.network is not None:
        items.append(_network(rec.network))
    problems = [f"{failure.kind}: {redact(failure.reason)}"] if failure is not None else []
    problems += [f"{m.metric} (turn {m.turn}): {redact(m.reason or 'failed')}"
                 for m in measurements if m.passed is False and m.metric != "call_failed"]
    items.append(CheckItem(name="failures", status=CheckStatus.FAIL if problems else CheckStatus.OK,
                           detail="; ".join(problems) or "none"))
    return CheckReport(endpoint=spec.name, dialect=str(spec.dialect), url=redact(spec.url),
                       items=tuple(items), failure=failure)


def _redact(spec: EndpointSpec) -> SecretRedactor:
    return endpoint_redactor([spec])


def _signalling(rec: CallRecording, signalled: bool, redact: SecretRedactor) -> CheckItem:
    websocket = rec.caller is CallerKind.WEBSOCKET
    if not signalled:
        assert rec.failure is not None
        what = "no WebSocket session" if websocket else "no usable answer SDP"
        return CheckItem(name="signalling", status=CheckStatus.FAIL,
                         detail=f"{what}: {rec.failure.kind}: {redact(rec.failure.reason)}")
    info = ", ".join(f"{k}={redact(str(v))}" for k, v in sorted(rec.dialect_info.items()))
    done = "WebSocket upgrade accepted, session set up" if websocket else "answer SDP received"
    return CheckItem(name="signalling", status=CheckStatus.OK, detail=done + (f" ({info})" if info else ""))


def _media(rec: CallRecording, signalled: bool) -> CheckItem:
    if rec.connected_ns is not None:
        how = "WebSocket open" if rec.caller is CallerKind.WEBSOCKET else "ICE + DTLS connected"
        path = rec.caller_info.get("network_path")
        over = f"; media path: {path}" if isinstance(path, str) else ""
        return CheckItem(name="media connected", status=CheckStatus.OK,
                         detail=f"{how} at t={rec.connected_ns / 1e6:.0f} ms (t=0: first audio frame){over}")
    if not signalled:
        return CheckItem(name="media connected", status=CheckStatus.SKIPPED, detail="no answer to connect with")
    reason = rec.failure.reason if rec.failure is not None else "never connected"
    return CheckItem(name="media connected", status=CheckStatus.FAIL, detail=reason)


def _audio_out(rec: CallRecording) -> CheckItem:
    timing = rec.send_timing
    if timing is None or timing.frames == 0:
        status = CheckStatus.SKIPPED if rec.connected_ns is None else CheckStatus.FAIL
        return CheckItem(name="audio out", status=status, detail="no frames sent")
    said = "; the caller's turn was sent" if rec.sent else "; the caller's turn was never played"
    return CheckItem(
        name="audio out", status=CheckStatus.OK if rec.sent else CheckStatus.FAIL,
        detail=(f"{timing.frames} frames sent, {timing.late_frames} late; send timing error "
                f"p50 {timing.error_p50_ms:.1f} ms, p99 {timing.error_p99_ms:.1f} ms, "
                f"max {timing.error_max_ms:.1f} ms{said}"),
    )


def _audio_in(rec: CallRecording) -> CheckItem:
    last = rec.transport[-1] if rec.transport else None
    if last is None or last.packets_received == 0:
        status = CheckStatus.SKIPPED if rec.connected_ns is None else CheckStatus.FAIL
        return CheckItem(name="audio in", status=status, detail="no audio packets received")
    if rec.caller is CallerKind.WEBSOCKET:
        info = rec.caller_info
        return CheckItem(
            name="audio in", status=CheckStatus.OK,
            detail=(f"{last.packets_received} audio chunks received, up to {info.get('max_ahead_ms', 0)} ms ahead "
                    f"of playback (a server that bursts), {info.get('flushes', 0)} flushes; arrival times from "
                    f"{rec.arrival_source or 'unknown'}"),
        )
    total = last.packets_received + last.packets_lost
    loss = 100.0 * last.packets_lost / total if total else 0.0
    jitter = "n/a" if last.jitter_ms is None else f"{last.jitter_ms:.1f} ms"
    return CheckItem(
        name="audio in", status=CheckStatus.OK,
        detail=(f"{last.packets_received} packets received, {last.packets_lost} lost ({loss:.1f}%), "
                f"jitter {jitter}, arrival times from {rec.arrival_source or 'unknown'}"),
    )


def _reply(rec: CallRecording, measurements: tuple[Measurement, ...]) -> CheckItem:
    by_metric = {m.metric: m for m in measurements if m.turn == 0}
    latency, no_response = by_metric.get(TURN_LATENCY), by_metric.get(NO_RESPONSE)
    if latency is not None and latency.value is not None:
        parts = [f"turn latency {latency.value:.0f} ms"]
        endpointing, generation = by_metric.get(ENDPOINTING_DELAY), by_metric.get(GENERATION_DELAY)
        if endpointing is not None and generation is not None and endpointing.value is not None \
                and generation.value is not None:
            parts.append(f"(endpointing {endpointing.value:.0f} ms + generation {generation.value:.0f} ms)")
        return CheckItem(name="agent replied", status=CheckStatus.OK, detail=" ".join(parts))
    if no_response is not None:
        return CheckItem(name="agent replied", status=CheckStatus.FAIL,
                         detail=f"no reply: {no_response.reason or 'no agent speech'}")
    if not rec.sent:
        return CheckItem(name="agent replied", status=CheckStatus.SKIPPED, detail="nothing was said")
    return CheckItem(name="agent replied", status=CheckStatus.FAIL, detail="no reply (no agent audio to analyse)")


def _network(applied: NetworkApplied) -> CheckItem:
    """What the emulated network did (reported, not judged: the profile asked for it)."""
    def link(name: str, a: LinkApplied) -> str:
        if a.packets == 0:
            return f"{name} no audio packets"
        delay = "" if a.delay_p50_ms is None else f", delay p50 {a.delay_p50_ms:.0f} ms p99 {a.delay_p99_ms:.0f} ms"
        jitter = "" if a.jitter_ms is None else f", jitter {a.jitter_ms:.1f} ms"
        return f"{name} {a.packets} packets, {a.lost} lost ({a.lost / a.packets:.1%}){delay}{jitter}"

    return CheckItem(name="network", status=CheckStatus.INFO,
                     detail=f"{describe(applied.profile)}; applied: {link('up', applied.up)}; "
                            f"{link('down', applied.down)}")


def _events(rec: CallRecording) -> CheckItem:
    counts = Counter(str(e.kind) for e in rec.events)
    detail = ", ".join(f"{kind}={n}" for kind, n in sorted(counts.items())) or "none"
    return CheckItem(name="events seen", status=CheckStatus.INFO, detail=detail)
