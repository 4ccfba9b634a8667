"""The shipped script covers what the suites need; bad scripts get errors naming the spot."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from corpus_support import BUILTIN_SCRIPT, WriteScript

from harness.corpus.errors import ScriptError
from harness.corpus.script import load_script


def test_shipped_script_has_the_required_items() -> None:
    script, _ = load_script(BUILTIN_SCRIPT)
    tags = Counter(t for item in script.items for t in item.tags)
    assert tags["question"] + tags["command"] >= 20
    assert tags["repeat"] >= 10
    assert tags["greeting"] >= 1
    assert tags["interruption"] >= 2
    assert tags["noise"] >= 2
    texts = {item.spoken_text.lower() for item in script.items}
    assert {"uh-huh", "mm-hmm", "yeah"} <= texts
    assert any("wait, stop" in t for t in texts)
    assert any("hold on a second" in t for t in texts)
    paused = [item for item in script.items if "paused" in item.tags]
    assert sorted(item.pause_ms or 0 for item in paused) == [300, 500, 700, 1000, 1500]
    # "The same sentence" at every pause length, tagged with its length.
    assert len({item.spoken_text for item in paused}) == 1
    assert all(f"pause_{item.pause_ms}" in item.tags for item in paused)
    for item in script.items:
        if "repeat" in item.tags:
            assert item.spoken_text.lower().startswith("repeat after me:")


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            [{"id": "a", "text": "Hi."}, {"id": "b", "text": "Hi.", "noise": {"kind": "pink"}}],
            "items[1] (id 'b'): Value error, give exactly one of text, parts or noise",
        ),
        ([{"id": "a", "text": "Hi."}, {"id": "a", "text": "Yo."}], "appears more than once"),
        ([{"id": "a", "parts": ["one", "two"]}], "parts and pause_ms go together"),
        ([{"id": "a", "text": "Hi.", "tags": ["Bad Tag"]}], "items[0] (id 'a').tags"),
        ([{"id": "Bad Id", "text": "Hi."}], "items[0] (id 'Bad Id').id"),
        ([{"id": "a", "noise": {"kind": "thunder"}}], "items[0] (id 'a').noise.kind"),
        ([{"id": "a", "text": "Hi.", "colour": "red"}], "colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_script_names_file_item_and_field(
    make_script: WriteScript, items: list[dict[str, object]], expected: str
) -> None:
    path = make_script(items)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_unreadable_and_non_yaml_scripts(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScriptError, match="cannot read corpus script"):
        load_script(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScriptError, match="not valid YAML"):
        load_script(broken)
    wrong_version = tmp_path / "v2.yaml"
    wrong_version.write_text("schema_version: 2\nname: x\nitems: [{id: a, text: hi}]\n")
    with pytest.raises(ScriptError, match="schema_version"):
        load_script(wrong_version)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("content", "message"), [
    ("fifo", r"is a FIFO \(named pipe\), not a regular file"),
    ("name: x\nitems:\n  - id: !!int x\n", "not valid YAML: invalid value"),
    ("name: x\nitems: " + "[" * 2000 + "]" * 2000, "not valid YAML"),
    ("name: x\x00\n", "not valid YAML"),
])
def test_hostile_scripts_are_script_errors(tmp_path: Path, content: str, message: str) -> None:
    import os

    path = tmp_path / "script.yaml"
    if content == "fifo":
        os.mkfifo(path)
    else:
        path.write_text(content)
    with pytest.raises(ScriptError, match=message):
        load_script(path)
