"""What the CLI shows while and after it works: progress, summaries, diagnostics.

Output belongs to the CLI (the library only calls a :data:`~uploader.models.ProgressCallback`):

- progress goes to **stderr**: rich bars when stderr is a terminal, a few plain lines when it is
  not (cron mail, CI logs), nothing at all with ``--quiet``;
- the summary goes to **stdout**: human text, or exactly one JSON object with ``--json`` (printed
  even with ``--quiet``, since a script asked for it);
- diagnostics (notes, warnings) go to **stderr**; notes are dropped by ``--quiet``, warnings not.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from uploader.models import ProgressCallback

__all__ = [
    "STAGE_LABELS",
    "Output",
    "PlainProgress",
    "RichProgress",
    "progress_display",
]

#: How each library stage is named on screen.
STAGE_LABELS: dict[str, str] = {
    "read": "Reading",
    "validate": "Validating",
    "upload": "Uploading",
    "activate": "Activating",
    "results": "Fetching results",
    "report": "Writing report",
    "wait": "Waiting for calls",
}


def _label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


class RichProgress:
    """One rich bar per stage, created when the stage first reports; for terminals."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<17}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(_label(stage), total=total)
        self._progress.update(task, completed=done, total=total)


@dataclass
class PlainProgress:
    """A line per stage start, per 10 % step (at most every few seconds) and at the end.

    For logs: enough to see a cron run was alive and where it stopped, without a line per row.
    """

    stream: IO[str]
    min_interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    #: stage -> (time, decile or -1 once finished, done, total) of the last line printed
    _last: dict[str, tuple[float, int, int, int | None]] = field(default_factory=dict)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.flush()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = self.clock()
        finished = total is not None and done >= total
        decile = (10 * done // total) if total else 0
        previous = self._last.get(stage)
        if previous is not None and (
            done < previous[2] or (previous[1] == -1 and (done, total) != previous[2:])
        ):
            previous = None  # the stage started over (the next file of a watch, say)
        if previous is not None:
            if previous[1] == -1:  # already reported finished
                return
            since = now - previous[0]
            step = decile > previous[1] and since >= self.min_interval
            alive = total is None and since >= 5 * self.min_interval
            if not (finished or step or alive):
                return
        self._emit(stage, done, total)
        self._last[stage] = (now, -1 if finished else decile, done, total)

    def _emit(self, stage: str, done: int, total: int | None) -> None:
        if total:
            text = f"{_label(stage)}: {done:,}/{total:,} ({100 * done // total}%)"
        else:
            text = f"{_label(stage)}: {done:,}"
        print(text, file=self.stream, flush=True)


def _noop(stage: str, done: int, total: int | None) -> None:
    """Progress with ``--quiet``: nothing."""


@contextmanager
def progress_display(
    quiet: bool = False,
    *,
    stream: IO[str] | None = None,
    tty: bool | None = None,
) -> Iterator[ProgressCallback]:
    """A progress callback for the library, drawn on ``stream`` (default stderr).

    ``tty=None`` asks the stream; tests force it either way.
    """
    if quiet:
        yield _noop
        return
    out = stream if stream is not None else sys.stderr
    is_tty = out.isatty() if tty is None else tty
    if is_tty:
        console = Console(file=out, force_terminal=True, stderr=out is sys.stderr)
        with RichProgress(console) as bars:
            yield bars
    else:
        with PlainProgress(out) as lines:
            yield lines


@dataclass
class Output:
    """The CLI's voice: summary on stdout, diagnostics on stderr; ``--quiet``/``--json`` obeyed."""

    quiet: bool = False
    as_json: bool = False
    stdout: IO[str] | None = None
    stderr: IO[str] | None = None
    #: Applied to everything printed (the CLI's PII masker; None prints as is).
    mask: Callable[[str], str] | None = None

    def _masked(self, text: str) -> str:
        return self.mask(text) if self.mask is not None else text

    def _out(self) -> IO[str]:
        return self.stdout if self.stdout is not None else sys.stdout

    def _err(self) -> IO[str]:
        return self.stderr if self.stderr is not None else sys.stderr

    def progress(self, *, tty: bool | None = None) -> Any:
        """Context manager yielding the progress callback (nothing drawn with ``--quiet``)."""
        return progress_display(self.quiet, stream=self._err(), tty=tty)

    def summary(self, data: Mapping[str, Any], text: str | list[str] | None = None) -> None:
        """Print the result: ``data`` as one JSON object with ``--json``, else ``text`` (or a
        ``key: value`` rendering of ``data``) unless ``--quiet``."""
        if self.as_json:
            text_json = json.dumps(data, default=str, ensure_ascii=False)
            print(self._masked(text_json), file=self._out(), flush=True)
            return
        if self.quiet:
            return
        if text is None:
            text = [f"{key}: {_scalar(value)}" for key, value in data.items()]
        if isinstance(text, list):
            text = "\n".join(text)
        print(self._masked(text), file=self._out(), flush=True)

    def note(self, message: str) -> None:
        """A diagnostic a person may want (where a file went, what to do next); not with -q."""
        if not self.quiet:
            print(self._masked(message), file=self._err(), flush=True)

    def warn(self, message: str) -> None:
        """Something went wrong or is risky; printed even with ``--quiet``."""
        print(f"warning: {self._masked(message)}", file=self._err(), flush=True)


def _scalar(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return "" if value is None else str(value)
