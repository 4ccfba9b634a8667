"""The browser page's messages to Python: any text or binary frame is kept or counted malformed.

Targets the typed page protocol (``callers/browser/protocol.py``: ``parse_message``)
and ``PageSession``'s intake, ``parse_frames`` and ``parse_heard``.
"""

from __future__ import annotations

import json
import struct

from fuzz.hostile import hostile_json, hostile_scalars, hostile_text
from hypothesis import example, given
from hypothesis import strategies as st

from harness.callers.browser.protocol import (
    BINARY_HEADER_BYTES,
    BinaryKind,
    ProtocolError,
    parse_message,
)
from harness.callers.browser.session import _FRAME_HEAD, PageSession, parse_frames, parse_heard

_HEADER = BINARY_HEADER_BYTES
KIND_SENT, KIND_RECV, KIND_HEARD = BinaryKind.SENT, BinaryKind.RECEIVED, BinaryKind.HEARD

TYPES = ["pong", "stats", "played", "step", "dc", "playout", "speech", "error", "state", "connected",
         "capture", "done", "offer", "bogus"]

texts = st.one_of(
    st.builds(lambda kind, rest: json.dumps({"type": kind, **rest}, allow_nan=True),
              st.one_of(st.sampled_from(TYPES), hostile_scalars),
              st.dictionaries(st.sampled_from(["id", "perf", "rows", "t", "sdp", "message"]),
                              st.one_of(hostile_scalars, hostile_json,
                                        st.lists(st.lists(hostile_scalars, max_size=3), max_size=3)),
                              max_size=3)),
    hostile_json.map(lambda v: json.dumps(v, allow_nan=True)),
    hostile_text,
)
frames = st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 2**32 - 1),
                            st.integers(0, 2**16 - 1), st.binary(max_size=20), st.integers(0, 2**16 - 1)),
                  max_size=4)


def _frame_batch(items: list[tuple[float, int, int, bytes, int]], torn: int) -> bytes:
    body = b"".join(_FRAME_HEAD.pack(t, ts, seq, claimed if claimed < len(p) else len(p)) + p
                    for t, ts, seq, p, claimed in items)
    return body[: max(0, len(body) - torn)]


binaries = st.one_of(
    st.builds(lambda kind, pad, batch: bytes([kind]) + pad + batch, st.sampled_from([KIND_SENT, KIND_RECV]),
              st.binary(min_size=_HEADER - 1, max_size=_HEADER - 1),
              st.builds(_frame_batch, frames, st.integers(0, 10))),
    st.builds(lambda pad, start, samples: bytes([KIND_HEARD]) + pad + struct.pack("<d", start) + samples,
              st.binary(min_size=_HEADER - 1, max_size=_HEADER - 1), st.floats(allow_nan=True, allow_infinity=True),
              st.binary(max_size=64)),
    st.binary(max_size=40),
)


@given(st.lists(st.one_of(texts, binaries), min_size=1, max_size=6))
@example(["[" * 100_000])
@example(['{"type": "pong", "id": true, "perf": NaN}', '{"type": "playout", "rows": [[1], [1, 2], 5]}'])
@example([bytes([KIND_HEARD]) + b"\x00" * 7 + struct.pack("<d", float("nan")) + b"\x00\x00\xc0\x7f"])
def test_page_messages(messages: list[str | bytes]) -> None:
    session = PageSession({})
    for message in messages:
        if isinstance(message, str):
            session._on_text(message, 0)
        else:
            session._on_binary(message)
    ev = session.evidence
    for message in messages:  # the typed parser either gives a message or says why not
        if isinstance(message, str):
            try:
                parse_message(message)
            except ProtocolError as exc:
                assert str(exc)
    assert all(len(row) == 2 for row in ev.playout)
    assert all(isinstance(f.payload, bytes) for f in (*ev.sent, *ev.received))
    for block in ev.heard:  # heard audio must stay writable: no NaN or infinity in it
        assert block.samples.size == 0 or bool(abs(block.samples).max() < float("inf"))
    assert ev.malformed <= len(messages)


@given(st.binary(max_size=200))
def test_frame_and_heard_parsers(body: bytes) -> None:
    parsed = parse_frames(body)
    assert sum(_FRAME_HEAD.size + len(f.payload) for f in parsed) <= len(body)
    block = parse_heard(body)
    assert block is None or block.samples.size == (len(body) - 8) // 4
