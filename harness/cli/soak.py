"""``voice-harness soak SUITES -e ENDPOINT --duration 8h``: hours of calls on a load model."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import CallerChoice, CallerOption, console, usage_error
from harness.cli.selection import SkipTagOption, TagOption

__all__ = ["soak_command"]


def soak_command(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders (the mix).")],
    endpoint: Annotated[list[str], typer.Option("--endpoint", "-e",
                                                help="Name in endpoints.toml or DIALECT+URL.")],
    duration: Annotated[str, typer.Option(help="How long to start calls: 8h, 30m, 90s, 1h30m.")] = "1h",
    concurrency: Annotated[int | None, typer.Option(
        min=1, help="Closed model: N calls at a time, each slot starting its next call when one ends.")] = None,
    rate: Annotated[str | None, typer.Option(
        help="Open model: seeded Poisson arrivals, e.g. 30/min, whether or not calls ended.")] = None,
    ramp: Annotated[str, typer.Option(help="Grow linearly to full load over this long.")] = "0s",
    pace: Annotated[str, typer.Option(
        help="Closed model: a slot starts calls at most this often (a refusing endpoint is not hammered).")] = "1s",
    max_active: Annotated[int, typer.Option(
        min=1, help="Open model: arrivals while this many calls are in flight are skipped (counted).")] = 64,
    mix: Annotated[list[str] | None, typer.Option(
        help="SCENARIO_ID=WEIGHT, over the scenarios' own 'weight' (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Seeds the arrivals and the mix.")] = 0,
    window: Annotated[str, typer.Option(help="Length of a windows.jsonl row.")] = "1m",
    warmup: Annotated[str | None, typer.Option(
        help="Windows starting before this are left out of drift (default: the first window).")] = None,
    keep_audio: Annotated[str, typer.Option(help="all | failed | outliers | none")] = "failed",
    sample_audio: Annotated[int, typer.Option(min=0, help="Also keep the audio of every Nth call.")] = 0,
    caller: CallerOption = [CallerChoice.AIORTC],  # noqa: B006
    workers: Annotated[int | None, typer.Option(
        min=1, help="Caller worker processes (default: one per core, at most the concurrency).")] = None,
    scoring_workers: Annotated[int | None, typer.Option(
        min=1, help="Processes scoring finished calls (niced; default: one per core).")] = None,
    out: Annotated[Path, typer.Option(help="Folder that receives the run folder.")] = Path("reports"),
    run_id: Annotated[str | None, typer.Option(help="Run folder name (default: time + random).")] = None,
    endpoints_file: Annotated[Path | None, typer.Option(help="endpoints.toml")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder (default: built-in).")] = None,
    signalling_timeout: Annotated[float, typer.Option(help="Seconds to wait for the SDP answer.")] = 10.0,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to wait for media to connect.")] = 15.0,
    slo: Annotated[Path | None, typer.Option(
        help="SLO file (TOML), max_drift_per_hour rules included: exit 3 on a failed verdict.")] = None,
    status_every: Annotated[str, typer.Option(help="Without a terminal: a status line this often.")] = "1m",
    network: Annotated[str | None, typer.Option(
        help="Emulated network between caller and endpoint: a profile name (wifi-good, 4g, 3g-lossy, "
             "congested) or fields like delay=50ms,jitter=10ms,loss=2% (docs/network.md).")] = None,
    tag: TagOption = None,
    skip_tag: SkipTagOption = None,
) -> None:
    """Calls on a load model for hours: windows.jsonl, drift in run.json, a live line.

    --tag/--skip-tag choose the mix's scenarios as on run. There is no --route: a soak
    plans no scenario x endpoint pairs, each call takes the next endpoint x caller in turn
    whatever its scenario (the same load on every endpoint); soak one endpoint's
    scenarios with a soak of its own (--tag TAG -e ENDPOINT).

    Ctrl-C (or SIGTERM) stops starting calls and waits for those in flight; a second
    Ctrl-C abandons them. Exit 0, 1 when a call failed or missed an expectation, 2 on
    bad input, 3 when the gate (--slo) failed.
    """
    from harness.callers.base import CallerSettings
    from harness.network.profiles import ProfileError, parse_profile
    from harness.session import UsageError
    from harness.soak.load import LoadSettings, LoadSpecError, parse_duration, parse_mix, parse_rate
    from harness.soak.run import SoakSettings
    from harness.soak.session import SoakRequest, soak_and_report
    from harness.store.retention import AudioRetention, KeepAudio

    try:
        profile = parse_profile(network) if network is not None else None
    except ProfileError as exc:
        usage_error(str(exc))
    try:
        if rate is not None and concurrency is not None:
            raise LoadSpecError("give --concurrency (closed model) or --rate (open model), not both")
        try:
            keep = KeepAudio(keep_audio)
        except ValueError:
            raise LoadSpecError(f"--keep-audio: {keep_audio!r}; use all, failed, outliers or none") from None
        load = LoadSettings(
            duration_s=parse_duration(duration), ramp_s=parse_duration(ramp, "--ramp"),
            concurrency=(concurrency or 1) if rate is None else None,
            rate_per_s=None if rate is None else parse_rate(rate), max_active=max_active, seed=seed,
            pace_s=parse_duration(pace, "--pace"))
        window_s = parse_duration(window, "--window")
        if window_s <= 0:
            raise LoadSpecError("--window must be positive")
        settings = SoakSettings(
            load=load, window_s=window_s,
            warmup_s=None if warmup is None else parse_duration(warmup, "--warmup"),
            retention=AudioRetention(keep=keep, sample_every=sample_audio))
        request = SoakRequest(
            paths=tuple(paths), endpoints=tuple(endpoint), settings=settings, callers=tuple(str(c) for c in caller),
            mix=parse_mix(mix or []), out=out, run_id=run_id, endpoints_file=endpoints_file,
            corpus=corpus, argv=tuple(sys.argv), slo=slo,
            caller_settings=CallerSettings(signalling_timeout_s=signalling_timeout,
                                           connect_timeout_s=connect_timeout, network=profile),
            status_every_s=parse_duration(status_every, "--status-every"), workers=workers,
            scoring_workers=scoring_workers, tags=tuple(tag or ()), skip_tags=tuple(skip_tag or ()))
    except LoadSpecError as exc:
        usage_error(str(exc))
    try:
        code = asyncio.run(soak_and_report(request, console))  # the console scrubs any key an endpoint echoes
    except UsageError as exc:
        usage_error(str(exc))
    raise typer.Exit(code)
