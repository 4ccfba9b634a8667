"""Synthetic call results and a virtual clock for the soak's pure parts."""

from __future__ import annotations

from harness.records import CallerKind, CallResult, CallValidity, Failure, FailureKind, Measurement


class VirtualClock:
    """Seconds since the soak started; tests move it by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def result(call_id: str, latencies_ms: tuple[float, ...] = (), *, failure: FailureKind | None = None,
           cutoff: tuple[bool, ...] = (), wer: float | None = None, endpoint: str = "agent") -> CallResult:
    def m(metric: str, value: float, unit: str, turn: int | None) -> Measurement:
        return Measurement(call_id=call_id, scenario="s", endpoint=endpoint, caller=CallerKind.AIORTC,
                           repeat=0, turn=turn, metric=metric, value=value, unit=unit)

    ms = [m("turn_latency_ms", v, "ms", i) for i, v in enumerate(latencies_ms)]
    ms += [m("cutoff", float(c), "bool", i) for i, c in enumerate(cutoff)]
    if wer is not None:
        ms.append(m("reply_wer", wer, "ratio", 0))
    fail = None if failure is None else Failure(kind=failure, reason="synthetic")
    return CallResult(spec_call_id=call_id, scenario="s", endpoint=endpoint, caller=CallerKind.AIORTC,
                      repeat=0, measurements=tuple(ms), failure=fail)


def validity(disturbed: bool = False, loop_lag_p99_ms: float = 1.0) -> CallValidity:
    return CallValidity(disturbed=disturbed, reasons=("send p99 9 ms > 5 ms",) if disturbed else (),
                        loop_lag_p99_ms=loop_lag_p99_ms)
