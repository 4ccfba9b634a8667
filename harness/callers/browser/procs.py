"""The operating-system side of the pool's browsers: which processes, how much memory.

Playwright does not expose a browser's process id, so every pool browser is launched
with a unique, inert ``--voice-harness-pool=<marker>`` switch; its main process is the
one whose command line carries the marker (Chromium's helpers get ``--type=...`` and
never inherit unknown switches), and the rest of the browser is that process's tree.
Linux only (``/proc``); elsewhere the functions find nothing.

The browser is the caller, so it is given a raised niceness (``raise_niceness``): its
page hands audio to the encoder in a JavaScript transform at normal priority, and
beside a tts agent running Whisper on both cores the demo's browser calls sent with
p99 errors of 11-86 ms (the validity guard flagged all 11). Chromium already runs its
audio threads real-time; what was starved was the rest of the send path.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

MARKER_SWITCH = "--voice-harness-pool="
_PROC = Path("/proc")


def _cmdline(pid_dir: Path) -> list[str]:
    try:
        raw = (pid_dir / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def find_browser_pid(marker: str) -> int | None:
    """The main process of the pool browser launched with ``marker``, if it is alive."""
    wanted = MARKER_SWITCH + marker
    for pid_dir in _PROC.glob("[0-9]*"):
        args = _cmdline(pid_dir)
        if wanted in args and not any(a.startswith("--type=") for a in args):
            return int(pid_dir.name)
    return None


def _parent_of(pid_dir: Path) -> int | None:
    try:
        stat = (pid_dir / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces; fields follow the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for pid_dir in _PROC.glob("[0-9]*"):
        parent = _parent_of(pid_dir)
        if parent is not None:
            children.setdefault(parent, []).append(int(pid_dir.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def memory_bytes(pids: list[int]) -> int:
    """Proportional set size (shared pages split between sharers) summed over ``pids``.

    PSS rather than RSS, because Chromium's processes share most of their code: summing
    RSS would count the browser binary once per renderer.
    """
    total = 0
    for pid in pids:
        try:
            text = (_PROC / str(pid) / "smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def raise_niceness(pids: list[int], by: int) -> int:
    """Lower by ``-by`` the niceness of every thread of ``pids`` still at the niceness this
    process has (what a launched browser inherits, 0 unless the run itself was niced);
    threads Chromium set itself (its UI thread at -8, background work at +5) keep theirs.
    Processes forked later by a reniced zygote inherit it. Returns how many threads
    changed; none where not permitted (lowering niceness needs CAP_SYS_NICE)."""
    inherited = os.getpriority(os.PRIO_PROCESS, 0)
    target = max(-20, inherited - by)
    changed = 0
    for pid in pids:
        for task in (_PROC / str(pid) / "task").glob("[0-9]*"):
            tid = int(task.name)
            with contextlib.suppress(OSError):
                if os.getpriority(os.PRIO_PROCESS, tid) == inherited:
                    os.setpriority(os.PRIO_PROCESS, tid, target)
                    changed += 1
    return changed
