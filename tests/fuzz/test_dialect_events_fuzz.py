"""Data-channel messages: any text or bytes becomes events the run folder can store.

Both dialects with events (openai-realtime's ``oai-events``, pipecat's RTVI) get
documented message types with hostile fields, arbitrary JSON and raw garbage. Every
event must survive what the run folder does with it: redaction, strict JSON (no NaN
literal) and reading back as a record.
"""

from __future__ import annotations

import json

from fuzz.hostile import hostile_json, hostile_scalars, hostile_text
from hypothesis import example, given
from hypothesis import strategies as st

from harness.endpoints.openai_realtime import EVENT_KINDS as OPENAI_KINDS
from harness.endpoints.openai_realtime import OpenAIRealtimeEndpoint
from harness.endpoints.pipecat import EVENT_KINDS as RTVI_KINDS
from harness.endpoints.pipecat import RTVI_LABEL, PipecatEndpoint
from harness.records import Dialect, EndpointEvent, EndpointSpec, EventKind
from harness.redact import SecretRedactor
from harness.safe_io import utf8_safe
from harness.store.serialize import from_json_obj, to_json_obj

OPENAI = OpenAIRealtimeEndpoint(EndpointSpec(name="o", dialect=Dialect.OPENAI_REALTIME, url="http://h"))
PIPECAT = PipecatEndpoint(EndpointSpec(name="p", dialect=Dialect.PIPECAT, url="http://h"))
REDACTOR = SecretRedactor()

OPENAI_FIELDS = ["type", "audio_start_ms", "audio_end_ms", "item_id", "response_id", "transcript", "event_id",
                 "response", "error", "delta", "x"]
RTVI_FIELDS = ["label", "type", "id", "data", "message"]
RTVI_DATA = ["text", "final", "spoken", "error", "message", "fatal", "version", "ttfb", "processing"]

openai_messages = st.builds(
    lambda kind, rest: {"type": kind, **rest},
    st.one_of(st.sampled_from([*OPENAI_KINDS, "x.delta", ""]), hostile_scalars),
    st.dictionaries(
        st.sampled_from(OPENAI_FIELDS),
        st.one_of(hostile_scalars, hostile_json,
                  st.dictionaries(st.sampled_from(["id", "status", "status_details", "type", "code", "message"]),
                                  hostile_scalars, max_size=3)),
        max_size=3,
    ),
)
rtvi_messages = st.builds(
    lambda label, kind, rest: {"label": label, "type": kind, **rest},
    st.one_of(st.just(RTVI_LABEL), hostile_scalars),
    st.one_of(st.sampled_from([*RTVI_KINDS, "bot-tts-audio", "renegotiate"]), hostile_scalars),
    st.dictionaries(
        st.sampled_from(RTVI_FIELDS),
        st.one_of(hostile_scalars, hostile_json,
                  st.dictionaries(st.sampled_from(RTVI_DATA), st.one_of(
                      hostile_scalars, st.lists(st.dictionaries(st.sampled_from(["processor", "value"]),
                                                                hostile_scalars, max_size=2), max_size=2)),
                                  max_size=3)),
        max_size=2,
    ),
)


@st.composite
def wire(draw: st.DrawFn, objects: st.SearchStrategy[dict[str, object]]) -> str | bytes:
    how = draw(st.sampled_from(["object", "object", "object", "json", "text", "bytes"]))
    if how == "object":
        text = json.dumps(draw(objects), allow_nan=True)
    elif how == "json":
        text = json.dumps(draw(hostile_json), allow_nan=True)
    elif how == "text":
        text = draw(st.one_of(hostile_text, st.just("ping"), st.just("[" * 5000)))
    else:
        return draw(st.binary(max_size=60))
    return text.encode("utf-8", "surrogatepass") if draw(st.booleans()) else text


def _stored(events: list[EndpointEvent]) -> None:
    for event in events:
        assert isinstance(event.kind, EventKind) and isinstance(event.vendor_type, str)
        obj = utf8_safe(REDACTOR.redact_obj(to_json_obj(event)))
        text = json.dumps(obj, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
        from_json_obj(EndpointEvent, json.loads(text))


@given(wire(openai_messages))
@example('{"type": "error", "error": {"message": "[/x] \\u0000 \\ud800", "code": NaN}}')
@example('{"type": "response.done", "response": {"status_details": {"reason": Infinity}}}')
@example("[" * 100_000)
@example(b"\xff\xfe")
def test_openai_realtime_messages(message: str | bytes) -> None:
    _stored(OPENAI.map_message(message, 0))


@given(wire(rtvi_messages))
@example('{"label": "rtvi-ai", "type": "metrics", "data": {"ttfb": [{"processor": {"a": 1}, "value": NaN}]}}')
@example('{"label": "rtvi-ai", "type": "error", "data": {"error": ["\\ud800"], "fatal": 1}}')
@example('{"type": "peerLeft", "message": {"type": 5}}')
@example("ping" + "x" * 10)
def test_pipecat_messages(message: str | bytes) -> None:
    _stored(PIPECAT.map_message(message, 0))
