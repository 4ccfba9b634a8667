"""Speed of the local ASR (not a test): ``.venv/bin/python tests/bench/bench_asr.py``.

Prints how many times faster than real time the default model (Whisper tiny.en,
int8, CPU) transcribes the corpus's agent-length utterances on this machine, the
cost of one ~2 s turn (what the tts-mode agent pays per turn) and of one Piper
synthesis of a new answer. Also runs as ``pytest tests/bench -m bench -s``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.asr import default_model_name, get_transcriber
from harness.corpus.defaults import default_corpus

ITEMS = ("q_capital_france", "q_two_plus_two", "cmd_lights_off", "rep_fox", "rep_journey", "ans_weather_long")


def bench() -> dict[str, float]:
    corpus = default_corpus(build=True)
    t0 = time.perf_counter()
    tr = get_transcriber()
    load_s = time.perf_counter() - t0
    clips = [soundfile.read(corpus.get(i).wav, dtype="float32") for i in ITEMS]
    tr.transcribe(clips[0][0], clips[0][1])  # warm-up
    audio_s = sum(a.size / sr for a, sr in clips)
    t0 = time.perf_counter()
    for a, sr in clips:
        tr.transcribe(a, sr)
    asr_s = time.perf_counter() - t0
    two, sr = clips[0]
    t0 = time.perf_counter()
    for _ in range(3):
        tr.transcribe(two, sr)
    turn_s = (time.perf_counter() - t0) / 3

    from harness.corpus.script import VoiceSettings
    from harness.corpus.tts import PiperSynthesizer

    tts = PiperSynthesizer(VoiceSettings(backend="piper"))
    tts.synthesize("Warm up.")
    t0 = time.perf_counter()
    tts.synthesize("The capital of France is Paris.")
    tts_s = time.perf_counter() - t0
    results = {
        "load_s": load_s, "realtime_x": audio_s / asr_s, "turn_audio_s": two.size / sr,
        "turn_asr_s": turn_s, "tts_answer_s": tts_s,
    }
    print(
        f"ASR {default_model_name()}: load {load_s:.2f} s; {audio_s:.1f} s of speech in {asr_s:.2f} s "
        f"= {results['realtime_x']:.1f}x real time; one {results['turn_audio_s']:.1f} s turn "
        f"{turn_s * 1000:.0f} ms; Piper answer (1.7 s of speech) {tts_s * 1000:.0f} ms"
    )
    return results


@pytest.mark.bench
def test_bench_asr() -> None:
    # The tts-mode agent transcribes each turn while the caller waits: slower than real
    # time, its replies would lag further behind every turn (README: 6.3x here).
    assert bench()["realtime_x"] > 2.0


if __name__ == "__main__":
    bench()
