"""``voice-harness agent serve``: the reference agent with its knobs as options."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from harness.agent.knobs import AgentKnobs, AgentMode, DelaySpec
from harness.agent.server import serve
from harness.exit_codes import EXIT_USAGE
from harness.extras import MissingExtra, require

agent_app = typer.Typer(help="The reference voice agent (a real local WebRTC endpoint).")


@agent_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to bind; loopback by design.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="0 picks a free port (printed on the ready line).")] = 8765,
    mode: Annotated[AgentMode, typer.Option()] = AgentMode.ECHO,
    delay: Annotated[str, typer.Option(help="Response delay ms: 500, uniform:200,800, normal:500,50")] = "0",
    endpointing_ms: Annotated[float, typer.Option(help="Silence that ends a caller turn.")] = 500.0,
    vad_threshold: Annotated[float, typer.Option()] = 0.5,
    min_speech_ms: Annotated[float, typer.Option()] = 90.0,
    seed: Annotated[int, typer.Option()] = 0,
    loss: Annotated[float, typer.Option(help="Send-path packet loss probability (0-1).")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Send-path jitter: uniform 0..N ms per packet.")] = 0.0,
    duplicate: Annotated[float, typer.Option(help="Send-path duplication probability.")] = 0.0,
    refuse_offer: Annotated[bool, typer.Option(help="Answer every offer with HTTP 503.")] = False,
    never_answer: Annotated[bool, typer.Option(help="Hold every offer without answering.")] = False,
    drop_after_s: Annotated[float | None, typer.Option(help="Close each call after N s.")] = None,
    malformed_events: Annotated[bool, typer.Option(help="Send malformed data-channel events.")] = False,
    barge_in: Annotated[bool, typer.Option(help="Stop when the caller interrupts.")] = True,
    stop_delay_ms: Annotated[float, typer.Option(help="Interruption decided -> output silent.")] = 150.0,
    interrupt_min_speech_ms: Annotated[float, typer.Option(help="Speech that counts as interrupting.")] = 500.0,
    stop_on_any_sound: Annotated[bool, typer.Option(help="Fault: stop on any loud sound.")] = False,
    wrong_answers: Annotated[bool, typer.Option(help="tts mode: some answers wrong on purpose.")] = False,
    send_ahead_ms: Annotated[float, typer.Option(help="WebSocket dialects: burst replies this far ahead.")] = 0.0,
    truth_log: Annotated[Path | None, typer.Option(help="Ground-truth JSONL log.")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Agent processes sharing the port (each owns the calls it answers).")] = 1,
    delay_drift_ms_per_min: Annotated[float, typer.Option(
        help="Soak: the response delay grows this many ms per minute of serving.")] = 0.0,
    fail_after: Annotated[float | None, typer.Option(
        help="Soak: refuse every offer from this many seconds of serving on.", min=0)] = None,
    fail_rate: Annotated[float, typer.Option(
        help="Soak: refuse each offer with this probability (seeded).", min=0, max=1)] = 0.0,
    leak_kb_per_call: Annotated[float, typer.Option(
        help="Soak: keep this many kB for good on every call answered.", min=0)] = 0.0,
    ice_interfaces: Annotated[bool, typer.Option(
        help="WebRTC: offer this machine's interface addresses and no 127.0.0.1, as a plain "
             "aiortc server does (default: exactly 127.0.0.1). Reproduces a loopback endpoint "
             "reached over another local address.")] = False,
) -> None:
    """Serve until interrupted."""
    try:
        delay_spec = DelaySpec.parse(delay)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--delay") from None
    knobs = AgentKnobs(
        mode=mode, delay=delay_spec, endpointing_ms=endpointing_ms, vad_threshold=vad_threshold,
        min_speech_ms=min_speech_ms, seed=seed, loss=loss, jitter_ms=jitter_ms, duplicate=duplicate,
        refuse_offer=refuse_offer, never_answer=never_answer, drop_after_s=drop_after_s,
        malformed_events=malformed_events, barge_in=barge_in, stop_delay_ms=stop_delay_ms,
        interrupt_min_speech_ms=interrupt_min_speech_ms, stop_on_any_sound=stop_on_any_sound,
        wrong_answers=wrong_answers, send_ahead_ms=send_ahead_ms,
        delay_drift_ms_per_min=delay_drift_ms_per_min, fail_after_s=fail_after, fail_rate=fail_rate,
        leak_kb_per_call=leak_kb_per_call, ice_interfaces=ice_interfaces,
    )
    if mode is AgentMode.TTS:  # the cascade loads Whisper and Piper: say which extra is missing, up front
        try:
            require("asr", "the tts agent (--mode tts)")
            require("tts", "the tts agent (--mode tts)")
        except MissingExtra as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    logging.basicConfig(level=logging.WARNING)
    if workers > 1:
        from harness.agent.workers import serve_workers

        raise typer.Exit(serve_workers(host, port, knobs, truth_log, workers))
    asyncio.run(serve(host, port, knobs, truth_log))
