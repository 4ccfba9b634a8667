"""The redactor: a configured secret never survives, whatever surrounds it.

Secrets are drawn without ``*`` (a key made of asterisks could hide inside ``***``);
surroundings include the shapes the redactor itself rewrites (headers, query strings),
so one rule cannot expose what another hid. Query-string keys are caught by their
parameter name alone.
"""

from __future__ import annotations

from urllib.parse import quote

from fuzz.hostile import hostile_text
from hypothesis import example, given
from hypothesis import strategies as st

from harness.redact import SecretRedactor

secrets = st.text(st.characters(blacklist_characters="*", blacklist_categories=["Cs"]), min_size=4,
                  max_size=40).filter(lambda s: len(s.strip()) >= 4)
surroundings = st.one_of(hostile_text, st.sampled_from([
    "Authorization: Bearer ", "authorization=", "?api_key=", "&token=", "Cookie: a=", "x-api-key: ",
    "https://user:", "@host/", "sk-", "ek_", " ", "", '{"key": "', '"}', "\\u00", "%"]))


@given(secrets, surroundings, surroundings, st.sampled_from(["plain", "quoted", "escaped"]))
@example("Zq9-hostile-KEY-value-7731xx", "Authorization: Bearer ", "\r\nHost: x", "plain")
@example("a b c d", "token=", "", "plain")
def test_a_configured_secret_never_survives(secret: str, before: str, after: str, form: str) -> None:
    shown = {"plain": secret, "quoted": quote(secret, safe=""),
             "escaped": secret.encode("unicode_escape").decode()}[form]
    redactor = SecretRedactor([secret])
    out = redactor.redact(before + shown + after)
    assert secret.strip() not in out
    assert redactor.redact(out) == out  # a second pass (report of a redacted folder) changes nothing


@given(st.sampled_from(["api_key", "apikey", "api-key", "key", "token", "access_token", "client_secret",
                        "password", "auth", "sig", "signature"]),
       st.text(st.characters(whitelist_categories=["Lu", "Ll", "Nd"], whitelist_characters="-_.~"),
               min_size=4, max_size=40),
       hostile_text)
@example("api_key", "qk-query-secret-55aa11", "")
def test_a_query_string_key_is_caught_by_its_name(name: str, value: str, tail: str) -> None:
    url = f"https://host/path?x=1&{name}={value}&y=2{tail}"
    out = SecretRedactor().redact(url)
    assert f"{name}={value}" not in out and f"{name}=***" in out
