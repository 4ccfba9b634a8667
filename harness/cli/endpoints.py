"""``voice-harness endpoints check | list``.

``check`` is the first thing a user runs against a new endpoint: one short call and a
table of what worked. ``list`` shows what endpoints.toml defines, without secrets:
the name of a key's environment variable and whether it is set, never its value.

Exit codes: 0 the endpoint is usable (signalling, audio both ways, a reply); 1 it is
not (the table says where it stopped); 2 bad input (unknown endpoint, unreadable
endpoints file, bad corpus or utterance).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.console import make_console
from harness.endpoints.config import (
    DEFAULT_CONFIG,
    EndpointConfigError,
    endpoint_redactor,
    load_endpoints,
    resolve_endpoint,
)
from harness.exit_codes import EXIT_FAILURES, EXIT_OK, EXIT_USAGE

endpoints_app = typer.Typer(
    help="Probe and list realtime voice endpoints.", no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False) -> Console:
    return make_console(stderr=stderr)


MAX_WAIT_S = 600.0
"""No probe waits longer than ten minutes for anything."""


def _finite(value: float) -> float:
    """Click's range check lets NaN through (every comparison with it is false)."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number of seconds")
    return value


def _usage_error(message: str) -> typer.Exit:
    err = _console(stderr=True)
    err.print(Text("error: ", style="red") + Text(message))
    return typer.Exit(EXIT_USAGE)


@endpoints_app.command("check")
def check_command(
    endpoint: Annotated[str, typer.Argument(help="Name in endpoints.toml or DIALECT+URL.")],
    endpoints_file: Annotated[Path | None, typer.Option(help="endpoints.toml")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder (default: built-in).")] = None,
    utterance: Annotated[str, typer.Option(help="Corpus id of what the probe says.")] = "q_time",
    reply_timeout: Annotated[float, typer.Option(min=0.1, max=MAX_WAIT_S, callback=_finite,
                                                 help="Seconds to wait for a reply.")] = 5.0,
    signalling_timeout: Annotated[float, typer.Option(min=0.1, max=MAX_WAIT_S, callback=_finite,
                                                      help="Seconds to wait for the SDP answer.")] = 10.0,
    connect_timeout: Annotated[float, typer.Option(min=0.1, max=MAX_WAIT_S, callback=_finite,
                                                   help="Seconds to wait for media to connect.")] = 15.0,
    network: Annotated[str | None, typer.Option(
        help="Probe through an emulated network: a profile name (4g, ...) or fields like "
             "delay=50ms,loss=2% (docs/network.md).")] = None,
) -> None:
    """One short call (say a question, listen for a reply) and a table of what works."""
    from harness.corpus.defaults import default_corpus
    from harness.corpus.errors import CorpusError
    from harness.corpus.model import load_corpus
    from harness.network.profiles import ProfileError, parse_profile
    from harness.probe import CheckSettings, run_check

    try:
        profile = parse_profile(network) if network is not None else None
    except ProfileError as exc:
        raise _usage_error(str(exc)) from None

    try:
        spec = resolve_endpoint(endpoint, endpoints_file)
    except EndpointConfigError as exc:
        raise _usage_error(str(exc)) from None
    try:
        loaded = load_corpus(corpus) if corpus is not None else default_corpus(build=True)
        loaded.get(utterance)
    except CorpusError as exc:
        raise _usage_error(str(exc)) from None
    settings = CheckSettings(
        utterance=utterance, reply_timeout_ms=round(reply_timeout * 1000),
        signalling_timeout_s=signalling_timeout, connect_timeout_s=connect_timeout, network=profile,
    )
    report = asyncio.run(run_check(spec, loaded, settings))
    _console().print(report.table())
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILURES)


@endpoints_app.command("list")
def list_command(
    endpoints_file: Annotated[Path, typer.Option(help="endpoints.toml")] = DEFAULT_CONFIG,
) -> None:
    """The endpoints a file defines (secrets never shown: only the variable's name)."""
    try:
        specs = load_endpoints(endpoints_file)
    except EndpointConfigError as exc:
        raise _usage_error(str(exc)) from None
    redact = endpoint_redactor(specs.values())
    table = Table(title=Text(str(endpoints_file)))
    for column in ("name", "dialect", "url", "key from", "options"):
        table.add_column(column, overflow="fold")
    for name, spec in specs.items():
        if spec.api_key_env is None:
            key = "-"
        else:
            key = f"${spec.api_key_env} ({'set' if os.environ.get(spec.api_key_env) else 'NOT set'})"
        options = redact(json.dumps(spec.options, sort_keys=True)) if spec.options else "-"
        table.add_row(Text(name), Text(str(spec.dialect)), Text(redact(spec.url)), Text(key), Text(options))
    _console().print(table)
