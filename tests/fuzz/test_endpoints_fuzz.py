"""endpoints.toml and inline ``DIALECT+URL`` forms: a spec or an EndpointConfigError.

A value that looks like a pasted key must never be echoed back in the error (users
paste keys into the wrong field), and every parsed spec must have a usable name.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fuzz import toml_text
from fuzz.hostile import hostile_scalars, hostile_text, nested
from hypothesis import example, given
from hypothesis import strategies as st

from harness.endpoints.config import (
    NAME_PATTERN,
    EndpointConfigError,
    parse_endpoints,
    resolve_endpoint,
)
from harness.endpoints.transport import url_schemes
from harness.records import Dialect

SOURCE = Path("endpoints.toml")
PASTED_KEY = "sk-proj-PASTEDKEYvalue0123456789abcdef"

ISSUE_INPUTS = [
    "a = " + "[" * 1200 + "]" * 1200 + "\n",
    "a = " + "[" * 500 + "]" * 500 + "\n",
    "[endpoints." + "a." * 700 + "b]\n",
    f'[endpoints.x]\ndialect = "whip"\nurl = "http://h/w?api_key={PASTED_KEY}"\napi_key_env = "{PASTED_KEY}"\n',
    "[endpoints.x]\nport = " + "9" * 5000 + "\n",
]

urls = st.one_of(
    hostile_text,
    st.builds(lambda scheme, host, tail: f"{scheme}://{host}{tail}",
              st.sampled_from(["http", "https", "ftp", "ws", "", "HTTP"]),
              st.sampled_from(["127.0.0.1:8765", "[::1]:1", "h:99999", "user:pw@h", "", "h:-1", "h:x",
                               "\x00", "[/x]", "a" * 300]),
              st.one_of(st.sampled_from(["", "/whip", f"/?api_key={PASTED_KEY}", "/#frag", "/%00"]),
                        hostile_text)),
)
entries = st.fixed_dictionaries({}, optional={
    "dialect": st.one_of(st.sampled_from([d.value for d in Dialect]), hostile_text),
    "url": urls,
    "api_key_env": st.one_of(st.sampled_from(["OPENAI_API_KEY", PASTED_KEY, "1X", ""]), hostile_text),
    "options": st.dictionaries(st.one_of(st.sampled_from(["model", "api_key", "token", "voice"]), hostile_text),
                               st.one_of(hostile_scalars, st.just(PASTED_KEY)), max_size=3),
    "extra": hostile_scalars,
    "deep": st.integers(30, 40).map(nested),
})
documents = st.fixed_dictionaries({}, optional={
    "schema_version": hostile_scalars,
    "endpoints": st.one_of(st.dictionaries(st.one_of(st.sampled_from(["local", "a:b", "a b", ""]), hostile_text),
                                           st.one_of(entries, hostile_scalars), max_size=3), hostile_scalars),
})


@st.composite
def endpoint_texts(draw: st.DrawFn) -> str:
    how = draw(st.sampled_from(["text", "document", "document"]))
    if how == "text":
        return draw(st.text(max_size=300))
    return toml_text.document(draw(documents))


@given(endpoint_texts())
@example("")
def test_any_endpoints_file(text: str) -> None:
    try:
        specs = parse_endpoints(text, SOURCE)
    except EndpointConfigError as exc:
        message = str(exc)
        assert message.startswith(f"{SOURCE}: ") and PASTED_KEY not in message
        return
    assert specs
    for name, spec in specs.items():
        assert NAME_PATTERN.fullmatch(name) and spec.dialect in Dialect
        assert urlsplit(spec.url).scheme in url_schemes(spec.dialect) and urlsplit(spec.url).hostname


@given(st.builds(lambda d, u: f"{d}+{u}", st.one_of(st.sampled_from([d.value for d in Dialect]), hostile_text),
                 urls))
@example(f"whip+http://127.0.0.1:8765/whip?api_key={PASTED_KEY}")
@example("openai-realtime+http://user:secretpw@127.0.0.1:1")
def test_any_inline_endpoint(text: str) -> None:
    if "://" not in text:
        return
    try:
        spec = resolve_endpoint(text)
    except EndpointConfigError as exc:
        assert PASTED_KEY not in str(exc) and "secretpw" not in str(exc)
        return
    assert spec.dialect in Dialect and urlsplit(spec.url).scheme in url_schemes(spec.dialect)


def test_every_input_the_issue_found() -> None:
    for text in ISSUE_INPUTS:
        try:
            parse_endpoints(text, SOURCE)
        except EndpointConfigError as exc:
            assert PASTED_KEY not in str(exc)
