"""``voice-harness corpus build | import``."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from harness.console import make_console
from harness.corpus import asterisk
from harness.corpus.build import ProgressFn, run_build
from harness.corpus.defaults import default_corpus_dir, default_script
from harness.corpus.errors import CorpusError
from harness.corpus.importer import run_import
from harness.corpus.model import Corpus
from harness.exit_codes import EXIT_USAGE

corpus_app = typer.Typer(
    help="Build the built-in corpus or import recordings as a corpus.", no_args_is_help=True
)
_out = make_console()
_err = make_console(stderr=True)


@corpus_app.command("build")
def build_command(
    script: Annotated[
        Path | None, typer.Option(help="Corpus script (default: the built-in one).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the user cache for the built-in "
                                       "script, else build/ beside the script).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Rebuild even if the cached build is current.")
    ] = False,
) -> None:
    """Synthesise a corpus from its script (cached: a current build is reused)."""
    try:
        script = script or default_script()
        if out is None:
            out = default_corpus_dir(script) if script == default_script() else script.parent / "build"
        with _ItemProgress() as report:
            outcome = run_build(script, out, force=force, progress=report)
    except CorpusError as exc:
        _fail(exc)
    _summary(
        outcome.corpus, seconds=outcome.seconds, cached=outcome.cached, backend=outcome.backend
    )


@corpus_app.command("import")
def import_command(
    src_dir: Annotated[
        Path, typer.Argument(help="Folder of .wav/.flac files with .txt transcripts.")
    ],
    out: Annotated[Path, typer.Option(help="Output corpus folder.")],
    speaker: Annotated[str, typer.Option(help="Speaker name (default: the folder name).")] = "",
    tag: Annotated[
        list[str] | None, typer.Option(help="Extra tag for every item (repeatable).")
    ] = None,
    name: Annotated[str, typer.Option(help="Corpus name (default: the folder name).")] = "",
    force: Annotated[
        bool, typer.Option(help="Re-import even if the cached import is current.")
    ] = False,
) -> None:
    """Turn recordings into a corpus: 48 kHz mono, speech bounds measured."""
    try:
        with _ItemProgress() as report:
            outcome = run_import(
                src_dir,
                out,
                speaker=speaker,
                tags=tuple(tag or ()),
                name=name,
                force=force,
                progress=report,
            )
    except CorpusError as exc:
        _fail(exc)
    _summary(outcome.corpus, seconds=outcome.seconds, cached=outcome.cached, backend="")


@corpus_app.command("import-asterisk")
def import_asterisk_command(
    out: Annotated[Path, typer.Option(help="Output corpus folder.")],
    limit: Annotated[int | None, typer.Option(help="Import at most N items.")] = None,
    sounds: Annotated[Path, typer.Option(help="Folder of the Asterisk sounds.")] = asterisk.SOUNDS_DIR,
    index: Annotated[Path, typer.Option(help="Transcript index file.")] = asterisk.INDEX_FILE,
) -> None:
    """Real speech: Debian's Asterisk core sounds (one speaker, 8 kHz) as a corpus."""
    try:
        with tempfile.TemporaryDirectory() as staging:
            asterisk.stage(sounds, index, Path(staging), limit=limit)
            with _ItemProgress() as report:
                outcome = run_import(Path(staging), out, speaker="asterisk-allison",
                                     tags=("real_speech",), name="asterisk", progress=report)
    except CorpusError as exc:
        _fail(exc)
    _summary(outcome.corpus, seconds=outcome.seconds, cached=outcome.cached, backend="")


class _ItemProgress:
    """A progress bar on stderr that appears only once an item is actually generated."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_err,
            transient=True,
        )
        self._task: object = None

    def __enter__(self) -> ProgressFn:
        def report(index: int, total: int, item_id: str) -> None:
            if self._task is None:
                self._bar.start()
                self._task = self._bar.add_task("corpus", total=total)
            self._bar.update(self._task, completed=index, description=item_id)  # type: ignore[arg-type]

        return report

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()


def _fail(exc: CorpusError) -> NoReturn:
    # Escaped: messages quote script text, and "[[ phonemes ]]" would read as markup.
    # Soft-wrapped: a path in the message must stay copy-pasteable.
    _err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def _summary(corpus: Corpus, *, seconds: float, cached: bool, backend: str) -> None:
    audio_s = sum(u.num_samples / u.sample_rate for u in corpus)
    speech_s = sum((u.speech_end - u.speech_start) / u.sample_rate for u in corpus)
    table = Table(title=Text(f"corpus {corpus.name}"), show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("folder", Text(str(corpus.root)))
    table.add_row("items", str(len(corpus)))
    table.add_row("audio", f"{audio_s:.1f} s (speech {speech_s:.1f} s)")
    if backend:
        table.add_row("voice", backend)
    tags = Counter(t for u in corpus for t in u.tags)
    table.add_row("tags", Text(", ".join(f"{t} {n}" for t, n in sorted(tags.items()))))
    table.add_row("took", f"{seconds:.2f} s")
    table.add_row("cached", "yes (reused, nothing generated)" if cached else "no (generated)")
    _out.print(table)
