"""The page's live speech detector (worklet.js) is a faithful port of the Python one.

Live triggers in the browser run on the JavaScript detector, the aiortc caller's on
``harness.analysis.live.LiveSpeechDetector``; both must call the same audio speech at the
same sample, or the two callers would barge in at different moments. The worklet is run
under Node with the two AudioWorklet globals it uses stubbed, fed the same signal in the
same 128-sample render quanta, and its onsets/offsets must equal Python's exactly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.live import LiveSpeechDetector
from harness.records import SegmentationParams

WORKLET = Path(__file__).resolve().parents[2] / "harness" / "callers" / "browser" / "page" / "worklet.js"
SR = 48_000
QUANTUM = 128

RUNNER = """
import { readFileSync } from 'node:fs';
const [,, worklet, signalPath, optionsJson] = process.argv;
const events = [];
globalThis.sampleRate = SAMPLE_RATE;
globalThis.AudioWorkletProcessor = class { constructor() { this.port = { postMessage: (m) => events.push(m) }; } };
let Processor = null;
globalThis.registerProcessor = (name, cls) => { Processor = cls; };
await import(worklet);
const buf = readFileSync(signalPath);
const x = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
const node = new Processor({ processorOptions: JSON.parse(optionsJson) });
for (let k = 0; k + QUANTUM <= x.length; k += QUANTUM) {
  globalThis.currentFrame = k;
  node.process([[x.subarray(k, k + QUANTUM)]]);
}
console.log(JSON.stringify(events.filter((e) => e.type === 'speech')));
""".replace("SAMPLE_RATE", str(SR)).replace("QUANTUM", str(QUANTUM))


def _signal(rng: np.random.Generator) -> np.ndarray:
    """Noise at -65 dBFS with bursts of 30-1500 ms (some under min speech) and short gaps."""
    x = rng.standard_normal(SR * 12) * 10 ** (-65 / 20)
    pos = SR // 3
    while pos < x.size - SR:
        n = int(rng.uniform(0.03, 1.5) * SR)
        x[pos : pos + n] += rng.standard_normal(n) * 10 ** (rng.uniform(-40, -15) / 20)
        pos += n + int(rng.uniform(0.05, 0.9) * SR)
    return x.astype(np.float32)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the worklet")
def test_worklet_detector_matches_the_python_live_detector(tmp_path: Path) -> None:
    params = SegmentationParams()
    x = _signal(np.random.default_rng(11))
    usable = x.size // QUANTUM * QUANTUM
    signal_path = tmp_path / "signal.f32"
    x[:usable].tofile(signal_path)
    runner = tmp_path / "run.mjs"
    runner.write_text(RUNNER)
    options = {"blockSamples": 4800, "record": False, "detector": {
        "frame_ms": params.frame_ms, "threshold_db": params.threshold_db, "release_db": params.release_db,
        "absolute_floor_dbfs": params.absolute_floor_dbfs, "min_speech_ms": params.min_speech_ms,
        "hangover_ms": params.hangover_ms, "floor_rise_db_per_s": params.floor_rise_db_per_s}}
    out = subprocess.run(["node", str(runner), str(WORKLET), str(signal_path), json.dumps(options)],
                         capture_output=True, text=True, timeout=60, check=True)
    js = [(e["kind"], e["frame"]) for e in json.loads(out.stdout)]

    detector = LiveSpeechDetector(SR, params)
    py = []
    for k in range(0, usable, QUANTUM):
        end_ns = (k + QUANTUM) * 1_000_000_000 // SR
        for event in detector.push(x[k : k + QUANTUM], end_ns):
            py.append((str(event.kind), round(event.t_ns * SR / 1e9)))
    assert len(py) >= 10, py  # the signal really exercises the detector
    assert js == py
