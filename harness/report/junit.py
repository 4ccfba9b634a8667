"""junit.xml: one testcase per call x step expectation, plus one per gate verdict.

CI systems (GitHub, GitLab, Jenkins) show JUnit natively, so a failed expectation shows
up as a failed test named after the scenario, the step and the metric, with the reason.
Written with ElementTree, which escapes every endpoint-provided string; characters
XML 1.0 cannot carry at all (NUL, ESC, BEL, lone surrogates) are shown as ``\\xNN``
instead, so a hostile reason cannot make the file unreadable for the CI.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.records import Measurement, VerdictStatus
from harness.report.context import ReportContext

__all__ = ["JUNIT_XML", "write_junit", "xml_safe"]

JUNIT_XML = "junit.xml"

_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters outside XML 1.0's Char production."""


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as ``\\xNN`` (or ``\\uNNNN``)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode(), text)


def _sanitize(root: ET.Element) -> None:
    for element in root.iter():
        for name, value in element.attrib.items():
            element.set(name, xml_safe(value))
        if element.text:
            element.text = xml_safe(element.text)
        if element.tail:
            element.tail = xml_safe(element.tail)


def _case_name(m: Measurement) -> str:
    step = "call" if m.turn is None else f"step {m.turn}"
    return f"{m.call_id} {step} {m.metric}"


def write_junit(ctx: ReportContext, path: Path | None = None) -> Path:
    path = path or ctx.run_dir / JUNIT_XML
    root = ET.Element("testsuites", name=f"voice-harness {ctx.run_id}")
    calls = ET.SubElement(root, "testsuite", name="calls")
    tests = failures = 0
    for call in ctx.calls:
        for m in call.measurements:
            if m.passed is None:
                continue
            tests += 1
            case = ET.SubElement(calls, "testcase", name=_case_name(m),
                                 classname=f"{m.scenario}.{m.endpoint}.{m.caller}")
            value = "-" if m.value is None else f"{m.value:g} {m.unit}"
            if m.passed is False:
                failures += 1
                msg = m.reason or f"{m.metric} = {value}: expectation not met"
                failure = ET.SubElement(case, "failure", message=msg, type=m.metric)
                failure.text = f"{m.metric} = {value}\n{msg}"
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"{m.metric} = {value}"
        if call.disturbed:
            # Counted like a failed call (exit code 1): its numbers are about the harness.
            tests += 1
            failures += 1
            case = ET.SubElement(calls, "testcase", name=f"{call.call_id} validity",
                                 classname="validity_guard")
            text = f"disturbed by the harness: {call.validity_text}"
            ET.SubElement(case, "failure", message=text, type="disturbed").text = text
        if call.error:
            tests += 1
            failures += 1
            case = ET.SubElement(calls, "testcase", name=f"{call.call_id} unreadable",
                                 classname="run_folder")
            ET.SubElement(case, "failure", message=call.error, type="unreadable")
    calls.set("tests", str(tests))
    calls.set("failures", str(failures))
    calls.set("errors", "0")
    if ctx.verdicts:
        gate = ET.SubElement(root, "testsuite", name="gate")
        g_fail = g_skip = 0
        for v in ctx.verdicts:
            case = ET.SubElement(gate, "testcase", name=f"{v.metric} {v.stat} [{v.group}]",
                                 classname=f"gate.{v.kind}")
            obs = "-" if v.observed is None else f"{v.observed:g}"
            text = (f"observed {obs} {v.unit}, threshold {v.op} {v.threshold:g}, n={v.n}"
                    + (f"; {v.detail}" if v.detail else ""))
            if v.status is VerdictStatus.FAIL:
                g_fail += 1
                ET.SubElement(case, "failure", message=text, type=str(v.kind)).text = text
            elif v.status is VerdictStatus.INSUFFICIENT_SAMPLES:
                g_skip += 1
                ET.SubElement(case, "skipped", message=f"insufficient samples: {text}")
            else:
                ET.SubElement(case, "system-out").text = text
        gate.set("tests", str(len(ctx.verdicts)))
        gate.set("failures", str(g_fail))
        gate.set("skipped", str(g_skip))
        gate.set("errors", "0")
    _sanitize(root)
    ET.indent(root)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path
