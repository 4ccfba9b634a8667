"""Benchmark: a long soak's footprint. Does the harness stay flat for an hour?

Starts a steady reference agent and ``voice-harness soak suites/soak`` against it, and
prints each window as it lands in windows.jsonl: the harness's RSS (its own process and
its child processes), open file descriptors, threads, the run folder's size and the
calls in the window. At the end: growth per hour fitted over the windows after the
warm-up (Theil-Sen, with its 95 % interval), and the disk per call and per call-hour.

    .venv/bin/python tests/bench/bench_soak.py [--duration 1h] [--concurrency 4]
        [--keep-audio failed] [--window 1m] [--agent-workers 2]

Goals (issue 13): memory growth <= 5 % over the hour after warm-up; disk <= 1 MB per
call with --keep-audio failed. Run it on a quiet machine: another process's load makes
the agent fall behind, which shows as latency drift (correctly), not as harness growth.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.agent.process import AgentProcess  # noqa: E402


def _fit(hours: list[float], values: list[float]) -> str:
    if len(values) < 3:
        return "too few windows"
    fit = stats.theilslopes(values, hours, alpha=0.95)
    start = float(np.median(values[:3]))
    share = f" = {100 * fit.slope / start:+.2f} %/hour of {start:.1f}" if start else ""
    return f"{fit.slope:+.2f}/hour [{fit.low_slope:+.2f}, {fit.high_slope:+.2f}]{share}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", default="1h")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--keep-audio", default="failed")
    ap.add_argument("--window", default="1m")
    ap.add_argument("--warmup-windows", type=int, default=2)
    ap.add_argument("--agent-workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-soak")
    args = ap.parse_args()
    run_id = f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = args.out / run_id
    agent_args = ["--delay", "300"]
    if args.agent_workers > 1:
        agent_args += ["--workers", str(args.agent_workers)]
    with AgentProcess(agent_args) as agent:
        cmd = [str(ROOT / ".venv/bin/voice-harness"), "soak", str(ROOT / "suites/soak"),
               "-e", f"openai-realtime+{agent.url}", "--duration", args.duration,
               "--concurrency", str(args.concurrency), "--window", args.window,
               "--keep-audio", args.keep_audio, "--out", str(args.out), "--run-id", run_id,
               "--status-every", "10m"]
        print(" ".join(cmd), flush=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen = 0
        rows: list[dict[str, object]] = []
        print(f"{'window':>6} {'end s':>7} {'calls':>5} {'failed':>6} {'rss MB':>7} {'children MB':>11} "
              f"{'fds':>4} {'threads':>7} {'disk MB':>8} {'p50 ms':>7}")
        while True:
            done = proc.poll() is not None
            path = folder / "windows.jsonl"
            lines = path.read_text().splitlines() if path.exists() else []
            for line in lines[seen:]:
                try:
                    row = json.loads(line)
                except ValueError:
                    break
                seen += 1
                rows.append(row)
                p = row["process"]
                p50 = next((m["value"] for m in row["metrics"]
                            if m["metric"] == "turn_latency_ms" and m["stat"] == "p50"), None)
                ended = row["calls_completed"] + row["calls_failed"]
                print(f"{row['index']:>6} {row['end_s']:>7.0f} {ended:>5} {row['calls_failed']:>6} "
                      f"{p['rss_mb'] or 0:>7.1f} {p['children_rss_mb'] or 0:>11.1f} {p['open_fds'] or 0:>4} "
                      f"{p['threads'] or 0:>7} {(row['disk_bytes'] or 0) / 1e6:>8.2f} "
                      f"{'-' if p50 is None else f'{p50:.0f}':>7}", flush=True)
            if done:
                break
            time.sleep(5)
        err = proc.stderr.read() if proc.stderr else ""
    print(err[-2000:])
    steady = [r for r in rows[args.warmup_windows:] if r["complete"]]
    hours = [float(r["end_s"]) / 3600 for r in steady]  # type: ignore[arg-type]
    print(f"after {args.warmup_windows} warm-up windows, {len(steady)} windows:")
    for name, key in (("harness RSS MB", "rss_mb"), ("children RSS MB", "children_rss_mb"),
                      ("open fds", "open_fds"), ("threads", "threads")):
        values = [float(r["process"][key] or 0) for r in steady]  # type: ignore[index]
        print(f"  {name:<16} {_fit(hours, values)}")
    calls = sum(int(r["calls_completed"]) + int(r["calls_failed"]) for r in rows)  # type: ignore[call-overload]
    disk = float(rows[-1]["disk_bytes"] or 0) if rows else 0.0  # type: ignore[arg-type]
    # A call-hour is an hour of call time (recording durations), not of wall clock.
    call_hours = sum(json.loads(p.read_text()).get("duration_ns", 0)
                     for p in folder.glob("calls/*/recording.json")) / 3600e9
    print(f"  disk: {disk / 1e6:.1f} MB for {calls} calls = {disk / max(calls, 1) / 1e3:.0f} kB per call, "
          f"{disk / 1e6 / max(call_hours, 1e-9):.1f} MB per call-hour (--keep-audio {args.keep_audio})")
    return proc.returncode or 0


if __name__ == "__main__":
    raise SystemExit(main())
