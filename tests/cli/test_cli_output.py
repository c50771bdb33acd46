"""Progress and output: bars on a terminal, a few plain lines in logs, nothing when quiet."""

from __future__ import annotations

import io
import json

from uploader.cli.progress import Output, PlainProgress, progress_display


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_prints_start_steps_and_end_only() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = PlainProgress(stream, min_interval=2.0, clock=clock)
    for done in range(0, 1001):
        clock.now = done * 0.01  # 10 s over the run
        progress("upload", done, 1000)
    progress("upload", 1000, 1000)  # repeated final call: no second "done" line
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Uploading: 0/1,000 (0%)"
    assert lines[-1] == "Uploading: 1,000/1,000 (100%)"
    assert 3 <= len(lines) <= 7  # at most one line per 2 s, never one per row
    assert all(line.startswith("Uploading: ") for line in lines)


def test_plain_progress_unknown_total_and_unknown_stage() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = PlainProgress(stream, clock=clock)
    progress("read", 0, None)
    clock.now = 1
    progress("read", 500, None)  # too soon
    clock.now = 30
    progress("read", 900, None)
    progress("some_stage", 1, 1)
    assert stream.getvalue().splitlines() == [
        "Reading: 0",
        "Reading: 900",
        "Some stage: 1/1 (100%)",
    ]


def test_rich_progress_on_a_terminal_and_plain_elsewhere() -> None:
    tty = io.StringIO()
    with progress_display(stream=tty, tty=True) as progress:
        for done in range(0, 101, 10):
            progress("validate", done, 100)
        progress("results", 3, None)
    text = tty.getvalue()
    assert "Validating" in text
    assert "100/100" in text
    assert "\x1b[" in text  # drawn with terminal escapes

    piped = io.StringIO()
    with progress_display(stream=piped, tty=False) as progress:
        progress("validate", 100, 100)
    assert "\x1b[" not in piped.getvalue()
    assert piped.getvalue() == "Validating: 100/100 (100%)\n"

    quiet = io.StringIO()
    with progress_display(True, stream=quiet, tty=True) as progress:
        progress("validate", 100, 100)
    assert quiet.getvalue() == ""


def test_output_summary_json_text_and_quiet() -> None:
    def make(**kw) -> tuple[Output, io.StringIO, io.StringIO]:
        out, err = io.StringIO(), io.StringIO()
        return Output(stdout=out, stderr=err, **kw), out, err

    data = {"valid": 3, "problems": {"invalid_target": 2}, "files": ["a", "b"]}
    output, out, err = make()
    output.summary(data)
    output.note("report: x.xlsx")
    assert out.getvalue() == "valid: 3\nproblems: invalid_target=2\nfiles: a, b\n"
    assert err.getvalue() == "report: x.xlsx\n"

    output, out, err = make(as_json=True, quiet=True)
    output.summary(data, "ignored text")
    output.note("dropped")
    output.warn("kept")
    assert json.loads(out.getvalue()) == data
    assert out.getvalue().count("\n") == 1  # exactly one object
    assert err.getvalue() == "warning: kept\n"

    output, out, err = make(quiet=True)
    output.summary(data, ["line"])
    assert out.getvalue() == ""


def test_plain_progress_starts_over_for_the_next_file() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = PlainProgress(stream, clock=clock)
    progress("read", 8, 8)
    progress("read", 8, 8)
    progress("read", 12, 12)
    progress("read", 0, 5)
    assert stream.getvalue().splitlines() == [
        "Reading: 8/8 (100%)",
        "Reading: 12/12 (100%)",
        "Reading: 0/5 (0%)",
    ]
