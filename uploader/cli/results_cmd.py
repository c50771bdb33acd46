"""``syllable-upload results``: the server's per-request results, written beside the user's rows.

A thin skin over :func:`uploader.reporter.report_results`: it finds the batch ids (flags or a
run's journal), re-validates the source file so results land beside the original rows, calls the
library once and renders its summary.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from uploader.cli.context import output, resolve_settings
from uploader.cli.options import client_options, json_option, read_options
from uploader.config import ReadOptions
from uploader.errors import ConfigError
from uploader.models import RowOutcome, ValidationResult

__all__ = ["register", "results_command"]

#: The read_options parameters: given on the command line, they win over the journal's record.
_READ_PARAMS = (
    "sheet",
    "header_row",
    "column_map",
    "exclude",
    "region",
    "generate_reference_ids",
    "dedupe_targets",
    "require_vars",
    "mapping_file",
    "encoding",
    "delimiter",
)


@dataclass(frozen=True, slots=True)
class _JournalRun:
    batch_ids: list[str]  # the batches the run got as far as creating
    outcomes: dict[int, RowOutcome]
    source: Path | None
    read: ReadOptions | None  # how the run read its file, when the journal recorded it


def _read_options(recorded: Any) -> ReadOptions | None:
    """The run's ReadOptions back from the journal's JSON (lists were tuples)."""
    if not isinstance(recorded, dict):
        return None
    known = {f.name: f for f in fields(ReadOptions)}
    values: dict[str, Any] = {}
    for key, value in recorded.items():
        if key in known:
            values[key] = tuple(value) if isinstance(value, list) else value
    try:
        return ReadOptions(**values)
    except TypeError:
        return None


def _journal_run(path: Path) -> _JournalRun:
    """What the journal's most recent run sent, from where, and how it read the file."""
    from uploader.journal import BatchState, Journal, load_outcomes

    _, outcomes = load_outcomes(path)
    journal = Journal(path, lock=False)
    try:
        run = journal.latest_run()
        if run is None:
            return _JournalRun([], outcomes, None, None)
        batch_ids = [b.batch_id for b in journal.batches(run) if b.state != BatchState.PLANNED]
        source = Path(run.file_path) if run.file_path else None
        read = _read_options(run.settings.get("read"))
    finally:
        journal.close()
    return _JournalRun(batch_ids, outcomes, source, read)


def _read_flags_given(ctx: click.Context) -> bool:
    return any(
        ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in _READ_PARAMS
    )


def _check_same_rows(validation: ValidationResult, outcomes: dict[int, RowOutcome]) -> None:
    """Refuse to lay a journal's verdicts beside a file whose rows have moved since the run."""
    by_row = dict(zip(validation.table.row_numbers, validation.reference_ids, strict=False))
    moved = [
        n
        for n, o in outcomes.items()
        if o.reference_id and by_row.get(n, o.reference_id) != o.reference_id
    ]
    if moved:
        raise ConfigError(
            f"{validation.table.path}: {len(moved)} rows no longer match the journal's run "
            f"(first: row {moved[0]}); the file changed since the upload. Pass the original "
            "file with --source, or use --batch-id to match rows by reference id instead"
        )


@click.command("results")
@click.option(
    "--batch-id",
    "batch_ids",
    multiple=True,
    metavar="ID",
    help="Batch to fetch (repeatable).",
)
@click.option(
    "--journal",
    "journal_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the batch ids and row outcomes from this run journal (its most recent run).",
)
@click.option(
    "--source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The uploaded spreadsheet: results are laid beside its rows (default with --journal: "
    "the run's own file, if it is still there).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here; format by extension (.csv .tsv .xlsx .ods), default the "
    "source's own.",
)
@click.option("--reference-id", default=None, help="Only this reference id.")
@click.option(
    "--status",
    "request_status",
    default=None,
    help="Only requests in this state (PENDING, COMPLETED, FAILED, ...).",
)
@click.option("--insights-status", default=None, help="Only this insights status.")
@click.option(
    "--watch",
    is_flag=True,
    help="Refresh (and rewrite the report) until no request is PENDING/INITIATED/CONNECTED.",
)
@click.option(
    "--watch-timeout",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="Give up watching after this many seconds (the report keeps the last picture).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds between refreshes with --watch.",
)
@read_options
@client_options
@json_option
@click.pass_context
def results_command(
    ctx: click.Context,
    batch_ids: tuple[str, ...],
    journal_file: Path | None,
    source: Path | None,
    report_path: Path | None,
    reference_id: str | None,
    request_status: str | None,
    insights_status: str | None,
    watch: bool,
    watch_timeout: float,
    interval: float,
    as_json: bool,
    **_: Any,
) -> None:
    """Fetch every request's result and write it beside the original rows.

    Rows keep their order and columns; row_number, upload_status, upload_error, batch_id,
    target_e164, request_status, attempt_count, sent_at, session_id, conversation_id,
    channel_manager_status and insights_status are added. Without a source file the report lists
    the server's own requests.

    \b
    Example:
      syllable-upload results --journal run.journal --report outcome.xlsx
      syllable-upload results --batch-id contacts-20260314-1a2b-001 --source contacts.csv \\
          --report outcome.csv --watch --watch-timeout 7200
    """
    from uploader.client import SyllableClient
    from uploader.reporter import report_results
    from uploader.validation import validate

    out = output(ctx, as_json=as_json)
    settings = resolve_settings(ctx)
    settings.require_api_key()
    outcomes: dict[int, RowOutcome] | None = None
    ids = list(batch_ids)
    read = settings.read
    if journal_file is not None:
        run_info = _journal_run(journal_file)
        outcomes = run_info.outcomes
        ids += [b for b in run_info.batch_ids if b not in ids]
        if run_info.read is not None and not _read_flags_given(ctx):
            read = run_info.read  # read the file the way the run did (its --map, --sheet...)
        if source is None and run_info.source is not None:
            if run_info.source.is_file():
                source = run_info.source
            else:
                out.note(f"the run's file {run_info.source} is gone; listing the server's requests")
    if not ids and journal_file is not None:
        raise ConfigError(f"journal {journal_file}: its last run created no batch yet")
    if not ids:
        raise click.UsageError("name the batches: --batch-id ID (repeatable) or --journal PATH")
    validation: ValidationResult | None = None
    with out.progress() as progress:
        if source is not None:
            validation = validate(source, read, progress=progress)
            if outcomes is not None:
                _check_same_rows(validation, outcomes)
        if validation is None:
            outcomes = None  # journal verdicts are keyed by rows we do not have
        with SyllableClient(settings.client) as client:
            run = report_results(
                client,
                ids,
                out=report_path,
                validation=validation,
                outcomes=outcomes,
                watch_timeout=watch_timeout if watch else None,
                interval=interval,
                settings=_report_settings(settings, ids, source),
                progress=progress,
                reference_id=reference_id,
                status=request_status,
                insights_status=insights_status,
                skip_missing=journal_file is not None,
            )
    out.summary(run.to_dict(), run.render())
    if run.watched and not run.settled:
        out.warn(f"{run.summary['open_requests']} requests still open after {watch_timeout:g}s")


def _report_settings(settings: Any, batch_ids: list[str], source: Path | None) -> dict[str, Any]:
    """What the Summary sheet records about this run (never the key)."""
    return {
        "command": "results",
        "server_url": settings.client.server_url,
        "profile": settings.profile or "",
        "source": str(source) if source else "",
        "batch_ids": batch_ids,
    }


def register(group: click.Group) -> None:
    group.add_command(results_command)
