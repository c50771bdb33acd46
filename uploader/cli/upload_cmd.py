"""``syllable-upload upload``: a thin skin over :func:`uploader.upload`.

It resolves flags > environment > profile into config objects (the API key is read here, at the
edge, and nowhere else), calls the library once, writes the report when asked and renders the
summary. The exit code comes from the result: 0 all accepted, 1 some rows not, 2 fatal,
3 journal locked (see :data:`uploader.errors.EXIT_CODES`).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from uploader.cli.context import cli_state, output, resolve_settings
from uploader.cli.options import (
    batch_options,
    client_options,
    json_option,
    read_options,
    show_pii_option,
)
from uploader.errors import ConfigError

__all__ = ["KILL_AT_ENV", "register", "upload_command"]

#: Test hook, read here only: ``NAME[:N]`` SIGKILLs this process at the N-th (default 1st)
#: engine checkpoint called NAME (``creating``, ``uploaded``, ``add``, ``activated``, ...), so
#: crash-resume tests stop a real run at a precise point of the batch lifecycle.
KILL_AT_ENV = "UPLOADER_TEST_KILL_AT"


def _kill_hook(spec: str | None) -> Callable[[str], None] | None:
    if not spec:
        return None
    name, _, nth = spec.partition(":")
    target = int(nth or 1)
    seen = {"n": 0}

    def checkpoint(point: str) -> None:
        if point == name:
            seen["n"] += 1
            if seen["n"] == target:
                os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def _confirm_large_send(summary: Mapping[str, Any]) -> bool:
    rows = summary.get("rows", 0)
    batches = summary.get("batches", [])
    click.echo(
        f"Large send: {rows:,} rows is above the threshold of "
        f"{summary.get('threshold', 0):,} (large_send_threshold).",
        err=True,
    )
    for batch in batches[:20]:
        click.echo(f"  {batch['batch_id']}: {batch['rows']:,} rows", err=True)
    if len(batches) > 20:
        click.echo(f"  ... and {len(batches) - 20} more batch(es)", err=True)
    return click.confirm(
        f"Send {rows:,} rows in {len(batches)} batch(es) from {summary.get('file')}?", err=True
    )


def _trial_lines(result: Any, client_config: Any, wait: float) -> list[str]:
    """A trial run's own results, waited for (up to ``wait`` seconds) and listed row by row."""
    from uploader.client import SyllableClient
    from uploader.reporter import watch_results

    batch_ids = [b.batch_id for b in result.batches if b.state in ("active", "verified")]
    if not batch_ids:
        return ["  trial: no batch was activated, so no results to wait for"]
    with SyllableClient(client_config) as api:
        seen = watch_results(api, batch_ids, timeout=wait, interval=min(5.0, max(wait / 10, 0.2)))
    lines = [f"Trial results ({'settled' if seen.settled else f'after {wait:.0f}s'}):"]
    for (batch_id, ref), item in sorted(seen.results.items()):
        status = item.get("request_status") or ""
        extra = item.get("channel_manager_status") or item.get("insights_status") or ""
        lines.append(f"  {batch_id}  {ref}  {item.get('target', '')}  {status}  {extra}".rstrip())
    pending = result.counts.get("pending", 0)
    lines.append(
        f"Send the other {pending:,} valid row(s) with the same command without --sample "
        "(same journal: the trial rows are not sent again)."
    )
    return lines


def _render(result: Any, report: Path | None) -> list[str]:
    counts = result.counts
    lines = [
        f"{result.file}: {result.validation.table.n_rows:,} rows read, mode {result.mode}",
        "  accepted {accepted:,}  refused {refused:,}  rejected {rejected:,}  "
        "failed {failed:,}  pending {pending:,}  blank {blank:,}".format(
            **{
                k: counts.get(k, 0)
                for k in ("accepted", "refused", "rejected", "failed", "pending", "blank")
            }
        ),
    ]
    for batch in result.batches:
        note = f"  ({batch.error})" if batch.error else ""
        lines.append(
            f"  batch {batch.batch_id}: {batch.state}, {batch.rows:,} rows, "
            f"{batch.accepted:,} accepted{note}"
        )
    lines.append(f"  journal: {result.journal_path}")
    if report is not None:
        lines.append(f"  report: {report}")
    return lines


def _write_report(out: Path, result: Any, client_config: Any, progress: Any) -> None:
    """The reporter's full report (with the server's per-request results)."""
    from uploader.client import SyllableClient
    from uploader.reporter import results as fetch_results
    from uploader.reporter import write_report

    found: dict[tuple[str, str], dict[str, Any]] = dict(result.server_results)
    have = {batch_id for batch_id, _ in found}
    # batches this run did not read back (verified by an earlier run) are fetched now; one that
    # never reached the server (left in "creating" by a crash) has nothing to show, not an error
    missing = [
        b.batch_id for b in result.batches if b.state != "planned" and b.batch_id not in have
    ]
    if missing:
        with SyllableClient(client_config) as api:
            found.update(fetch_results(api, missing, skip_missing=True))
    write_report(
        out,
        result.validation,
        result.outcomes,
        found,
        settings={
            "command": "upload",
            "source": str(result.file),
            "mode": result.mode,
            "campaign_id": result.campaign_id,
            "journal": str(result.journal_path),
        },
        progress=progress,
    )


@click.command("upload")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@batch_options
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Requests in flight in --mode add (default 16).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every row with its outcome beside it (CSV, TSV, XLSX or ODS by extension).",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Journal SQLite file (default: one per input file in the user state directory).",
)
@click.option("--keep-paused", is_flag=True, default=None, help="Leave the batches paused.")
@click.option(
    "--expires-on",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    default=None,
    help="When the batches expire, e.g. 2026-07-01T18:00:00+0000.",
)
@click.option("--call-rate", type=click.IntRange(min=1), default=None, help="Calls per hour.")
@click.option(
    "--auto-call-rate",
    is_flag=True,
    default=None,
    help="Pace each batch to finish by --expires-on.",
)
@click.option(
    "--plan-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Apply a plan reviewed with `syllable-upload plan`.",
)
@click.option(
    "--failed",
    "failed_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the rows that did not make it, ready to fix and resend.",
)
@click.option("--yes", "-y", is_flag=True, default=None, help="Confirm a large send.")
@click.option(
    "--sample-wait",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="With --sample: seconds to wait for the trial's call results before printing them.",
)
@read_options
@client_options
@show_pii_option
@json_option
@click.pass_context
def upload_command(
    ctx: click.Context,
    /,
    file: Path,
    report_path: Path | None,
    as_json: bool,
    show_pii: bool,
    sample_wait: float,
    **params: Any,
) -> int:
    """Send FILE's valid rows into outbound batches, exactly once; rerun to resume.

    Batches are created paused, filled, checked against the server and only then activated.
    A rerun of the same command after a crash resumes where it stopped; after success it sends
    nothing and prints the same summary. The API key comes from --api-key-file, the
    SYLLABLE_API_KEY environment variable or the profile; it is never printed or stored.

    \b
    Example:
      export SYLLABLE_API_KEY=...   # or --api-key-file key.txt
      syllable-upload upload contacts.xlsx --campaign-id 7 --report outcome.xlsx
      syllable-upload upload late.csv --campaign-id 7 --mode add --concurrency 32
    """
    from uploader.engine import upload

    masker = cli_state(ctx).masker
    if show_pii:
        masker.enabled = False
    out = output(ctx, as_json=as_json)
    settings = resolve_settings(ctx)
    client_config = settings.client
    if settings.client.api_key is None:
        settings.require_api_key()
    options = settings.upload
    if options.campaign_id is None and not (options.mode == "add" and options.batch_id):
        raise ConfigError("--campaign-id is required (or SYLLABLE_CAMPAIGN_ID, or the profile)")
    checkpoint = _kill_hook(os.environ.get(KILL_AT_ENV))
    confirm = _confirm_large_send if sys.stdin.isatty() and not as_json else None
    with out.progress() as progress:
        result = upload(
            file,
            settings.read,
            options,
            client_config,
            progress=progress,
            confirm=confirm,
            checkpoint=checkpoint,
        )
        if report_path is not None:
            _write_report(report_path, result, client_config, progress)
    mapping = result.validation.mapping
    masker.remember_issues(result.validation.issues, skip_columns={mapping.reference_id} - {None})
    data = result.summary()
    lines = _render(result, report_path)
    if report_path is not None:
        data["report"] = str(report_path)
    if result.extra.get("failed_file"):
        data["failed_file"] = result.extra["failed_file"]
        data["failed_rows"] = result.extra.get("failed_rows", 0)
        lines.append(
            f"  failed rows: {data['failed_rows']:,} written to {data['failed_file']} "
            "(fix them and upload that file to add them to the same batches)"
        )
    if options.sample is not None and not as_json:
        lines += _trial_lines(result, client_config, sample_wait)
    out.summary(data, lines)
    return int(result.exit_code)


def register(group: click.Group) -> None:
    group.add_command(upload_command)
