"""Turn latency split at the endpoint's own end-of-turn event (docs/metrics.md).

Turn latency says how long a caller waited; when the endpoint reports events it can
also say *why*: was the time spent deciding the caller had finished (endpointing), or
producing the answer after deciding (generation)? Events are evidence beside the
audio, so both ends of the split that the harness can measure come from audio: the
caller's last voiced sample (known to the sample) and the agent's reply onset (the
same reply the latency family measures, via :func:`harness.metrics.replies.step_replies`).
Only the split point is the event's arrival time on the call clock, which includes the
data channel's delivery (well under a millisecond on loopback, one network path
otherwise).

Per answered ``say`` step:

- the turn's ``speech_stopped`` is the last SPEECH_STOPPED event after the utterance's
  ``speech_start_ns`` and at or before the reply onset: an endpoint that declared
  end-of-turn in a pause and then heard the caller resume emits a second one, and the
  one that led to the reply is the last. If none precedes the onset, the first one
  after it (still before the next utterance starts) is taken: the endpoint started
  talking before saying it had stopped listening, and the negative generation delay
  says so;
- ``endpointing_delay_ms`` = speech_stopped − the caller's last voiced sample;
- ``generation_delay_ms`` = reply onset − speech_stopped (the two add up to the turn
  latency);
- ``response_created_delay_ms`` = the first RESPONSE_CREATED after speech_stopped (and
  before the window ends) − speech_stopped, when the endpoint sends one.

Turns without a reply or without events produce nothing: a missing event is not a
failure (WHIP has no events at all), and no-response is the latency family's verdict.

Not reported: openai-realtime's ``audio_end_ms`` (the vendor's own idea of where speech
ended, in ms of its input buffer). Mapping it onto the call clock needs the instant
the endpoint's buffer started, which the endpoint does not report; any mapping would
be an assumption presented as a measurement.
"""

from __future__ import annotations

import bisect

from harness.fmt import ns_to_ms
from harness.metrics.base import check_same_call, measurement
from harness.metrics.replies import step_replies
from harness.records import (
    CallRecording,
    EventKind,
    Measurement,
    Scenario,
    StepKind,
    Timeline,
)

__all__ = [
    "ENDPOINTING_DELAY",
    "GENERATION_DELAY",
    "RESPONSE_CREATED_DELAY",
    "measure_breakdown",
]

ENDPOINTING_DELAY = "endpointing_delay_ms"
GENERATION_DELAY = "generation_delay_ms"
RESPONSE_CREATED_DELAY = "response_created_delay_ms"


def measure_breakdown(
    timeline: Timeline, scenario: Scenario, recording: CallRecording
) -> tuple[Measurement, ...]:
    check_same_call(timeline, scenario, recording)
    stopped = sorted(e.t_ns for e in timeline.events if e.kind is EventKind.SPEECH_STOPPED)
    created = sorted(e.t_ns for e in timeline.events if e.kind is EventKind.RESPONSE_CREATED)
    if not stopped:
        return ()
    sent = sorted(timeline.caller_speech, key=lambda u: u.start_ns)
    out: list[Measurement] = []
    for answered in step_replies(timeline, scenario, recording):
        if answered.step.kind is not StepKind.SAY or answered.reply is None:
            continue
        utterance, onset = answered.sent, answered.reply.start_ns
        window_end = next((u.start_ns for u in sent if u.start_ns > utterance.start_ns), None)
        stop = _turn_stop(stopped, utterance.speech_start_ns, onset, window_end)
        if stop is None:
            continue
        turn = answered.step.index
        out.append(measurement(recording, turn=turn, metric=ENDPOINTING_DELAY,
                               value=ns_to_ms(stop - utterance.speech_end_ns), unit="ms"))
        out.append(measurement(recording, turn=turn, metric=GENERATION_DELAY,
                               value=ns_to_ms(onset - stop), unit="ms"))
        i = bisect.bisect_left(created, stop)
        if i < len(created) and (window_end is None or created[i] < window_end):
            out.append(measurement(recording, turn=turn, metric=RESPONSE_CREATED_DELAY,
                                   value=ns_to_ms(created[i] - stop), unit="ms"))
    return tuple(out)


def _turn_stop(stopped: list[int], speech_start_ns: int, onset_ns: int, window_end: int | None) -> int | None:
    """The SPEECH_STOPPED that ended this turn (see the module docstring), or ``None``."""
    lo = bisect.bisect_right(stopped, speech_start_ns)
    hi = bisect.bisect_right(stopped, onset_ns)
    if hi > lo:
        return stopped[hi - 1]
    if hi < len(stopped) and (window_end is None or stopped[hi] < window_end):
        return stopped[hi]
    return None

