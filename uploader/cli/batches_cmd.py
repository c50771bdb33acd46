"""``batches list|show|pause|resume|update|delete`` and ``remove``: batches on the server.

Each command is one call of :class:`uploader.client.SyllableClient` (retries, error translation
and key handling live there); this module only parses flags and renders the answer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from uploader.cli.context import output, resolve_settings
from uploader.cli.options import client_options, json_option
from uploader.client import SyllableClient
from uploader.config import ReadOptions
from uploader.errors import ConfigError, ConfirmationRequired, InputError

__all__ = ["batches", "read_reference_ids", "register", "remove"]

_BATCH_FIELDS = ("batch_id", "campaign_id", "status", "expires_on", "last_updated_at")


@contextmanager
def _client(ctx: click.Context, params: Mapping[str, Any]) -> Iterator[SyllableClient]:
    resolved = resolve_settings(ctx, params)
    with SyllableClient(resolved.client) as client:
        yield client


def _confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; without one, demand --yes (a cron job cannot answer)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationRequired(f"{question} Not on a terminal: pass --yes to confirm.")
    if not click.confirm(question, default=False, err=True):
        raise ConfirmationRequired("not confirmed; nothing was changed")


def _when(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def _batch_line(batch: Mapping[str, Any]) -> str:
    paused = " (paused)" if batch.get("paused") else ""
    deleted = " DELETED" if batch.get("deleted_at") else ""
    return (
        f"{batch.get('batch_id', '')}  campaign {batch.get('campaign_id', '')}  "
        f"{batch.get('status', '')}{paused}{deleted}"
    )


def _batch_text(batch: Mapping[str, Any]) -> list[str]:
    lines = [f"batch {batch.get('batch_id')}"]
    for key in (
        "campaign_id",
        "status",
        "paused",
        "expires_on",
        "upload_filename",
        "created_at",
        "last_updated_at",
        "error_message",
        "deleted_at",
        "deleted_reason",
    ):
        if batch.get(key) not in (None, ""):
            lines.append(f"  {key + ':':<17}{batch[key]}")
    counts = batch.get("status_counts") or {}
    if counts:
        lines.append("  requests:")
        for status, count in counts.items():
            lines.append(f"    {status:<15}{count:>8,}")
    detailed = batch.get("detailed_status_counts") or {}
    if detailed:
        lines.append("  by channel status:")
        for status, breakdown in detailed.items():
            for channel, count in ((breakdown or {}).get("counts") or {}).items():
                lines.append(f"    {status + ' / ' + channel:<27}{count:>8,}")
    return lines


@click.group()
def batches() -> None:
    """List, inspect, pause, resume, update and delete outbound batches on the server.

    \b
    Example:
      syllable-upload batches list --campaign-id 42
      syllable-upload batches show contacts-20261129-1a2b3c-001
      syllable-upload batches pause contacts-20261129-1a2b3c-001
    """


@batches.command("list")
@click.option("--page", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=25, show_default=True)
@click.option("--campaign-id", type=int, default=None, help="Only batches of this campaign.")
@click.option(
    "--status",
    type=click.Choice(["PENDING", "ACTIVE", "PAUSED", "FAILED", "CANCELED", "EXPIRED"]),
    default=None,
    help="Only batches in this status.",
)
@click.option("--search", default=None, metavar="TEXT", help="Batch ids containing TEXT.")
@click.option(
    "--order-by",
    type=click.Choice(_BATCH_FIELDS),
    default="last_updated_at",
    show_default=True,
)
@click.option("--asc", is_flag=True, help="Oldest first (default newest first).")
@client_options
@json_option
@click.pass_context
def list_batches(
    ctx: click.Context,
    /,
    page: int,
    limit: int,
    campaign_id: int | None,
    status: str | None,
    search: str | None,
    order_by: str,
    asc: bool,
    as_json: bool,
    **params: Any,
) -> None:
    """List batches, newest first, with their status.

    \b
    Example:
      syllable-upload batches list
      syllable-upload batches list --campaign-id 42 --status ACTIVE --json
    """
    out = output(ctx, as_json=as_json)
    fields: list[str] = []
    values: list[str] = []
    for name, value in (("campaign_id", campaign_id), ("status", status), ("batch_id", search)):
        if value is not None:
            fields.append(name)
            values.append(str(value))
    with _client(ctx, params) as client:
        answer = client.list_batches(
            page=page,
            limit=limit,
            search_fields=fields or None,
            search_field_values=values or None,
            order_by=order_by,
            order_by_direction="asc" if asc else "desc",
        )
    items = answer.get("items") or []
    total = answer.get("total_count", len(items))
    lines = [_batch_line(item) for item in items]
    lines.append(f"{len(items)} shown of {total} (page {answer.get('page', page)})")
    out.summary(answer, lines)


@batches.command("show")
@click.argument("batch_id")
@client_options
@json_option
@click.pass_context
def show_batch(ctx: click.Context, /, batch_id: str, as_json: bool, **params: Any) -> None:
    """Show one batch: status, settings and how many requests are in each state.

    \b
    Example:
      syllable-upload batches show contacts-20261129-1a2b3c-001
    """
    out = output(ctx, as_json=as_json)
    with _client(ctx, params) as client:
        batch = client.get_batch(batch_id)
    out.summary(batch, _batch_text(batch))


def _set_paused(
    ctx: click.Context, batch_ids: Sequence[str], paused: bool, as_json: bool, params: Any
) -> None:
    out = output(ctx, as_json=as_json)
    changed = []
    with _client(ctx, params) as client:
        for batch_id in batch_ids:
            changed.append(client.update_batch(batch_id, paused=paused))
    out.summary({"batches": changed}, [_batch_line(b) for b in changed])


@batches.command("pause")
@click.argument("batch_ids", nargs=-1, required=True, metavar="BATCH_ID...")
@client_options
@json_option
@click.pass_context
def pause_batch(
    ctx: click.Context, /, batch_ids: tuple[str, ...], as_json: bool, **params: Any
) -> None:
    """Put batches on hold: no more calls are made until they are resumed.

    \b
    Example:
      syllable-upload batches pause contacts-20261129-1a2b3c-001 contacts-20261129-1a2b3c-002
    """
    _set_paused(ctx, batch_ids, True, as_json, params)


@batches.command("resume")
@click.argument("batch_ids", nargs=-1, required=True, metavar="BATCH_ID...")
@client_options
@json_option
@click.pass_context
def resume_batch(
    ctx: click.Context, /, batch_ids: tuple[str, ...], as_json: bool, **params: Any
) -> None:
    """Take batches off hold so their calls start (or continue).

    \b
    Example:
      syllable-upload batches resume contacts-20261129-1a2b3c-001
    """
    _set_paused(ctx, batch_ids, False, as_json, params)


@batches.command("update")
@click.argument("batch_id")
@click.option(
    "--expires-on",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    default=None,
    help="New expiry (no calls after it).",
)
@click.option("--pause/--resume", "paused", default=None, help="Hold or release the batch.")
@client_options
@json_option
@click.pass_context
def update_batch(
    ctx: click.Context,
    /,
    batch_id: str,
    expires_on: datetime | None,
    paused: bool | None,
    as_json: bool,
    **params: Any,
) -> None:
    """Change a batch's expiry or hold.

    \b
    Example:
      syllable-upload batches update contacts-20261129-1a2b3c-001 --expires-on 2026-12-31
    """
    if expires_on is None and paused is None:
        raise click.UsageError("nothing to change: give --expires-on and/or --pause/--resume")
    out = output(ctx, as_json=as_json)
    with _client(ctx, params) as client:
        batch = client.update_batch(batch_id, paused=paused, expires_on=expires_on)
    out.summary(batch, _batch_text(batch))


@batches.command("delete")
@click.argument("batch_id")
@click.option("--reason", required=True, help="Why (kept by the server with the batch).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (needed when not on a terminal).")
@client_options
@json_option
@click.pass_context
def delete_batch(
    ctx: click.Context, /, batch_id: str, reason: str, yes: bool, as_json: bool, **params: Any
) -> None:
    """Delete a batch: its pending calls are not made. Asks first unless --yes.

    \b
    Example:
      syllable-upload batches delete contacts-20261129-1a2b3c-001 --reason "wrong list" --yes
    """
    out = output(ctx, as_json=as_json)
    _confirm(f"Delete batch {batch_id}?", yes)
    with _client(ctx, params) as client:
        client.delete_batch(batch_id, reason)
    out.summary({"batch_id": batch_id, "deleted": True, "reason": reason}, f"deleted {batch_id}")


# --------------------------------------------------------------------------- remove


def read_reference_ids(path: Path, column: str | None, options: ReadOptions) -> list[str]:
    """The non-empty values of ``column`` (default: the file's reference id column), in order.

    With no ``column`` the reference id column is found the same way ``upload`` finds it.
    """
    from uploader.reader import read_table

    table = read_table(path, options)
    wanted = column
    if wanted is None:
        wanted = options.column_map.get("reference_id") or _reference_id_header(table.headers)
    folded = {h.strip().casefold(): i for i, h in enumerate(table.headers)}
    index = folded.get((wanted or "").strip().casefold())
    if index is None:
        raise InputError(
            f"no column {wanted!r} (columns: {', '.join(table.headers)}); choose one with --column",
            path=str(path),
        )
    seen: dict[str, None] = {}
    for value in table.columns[index]:
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _reference_id_header(headers: Sequence[str]) -> str:
    """The id column as ``upload`` finds it: the reader's aliases, earliest alias first."""
    from uploader.mapping import REFERENCE_ID_ALIASES, fold_header

    folded = {fold_header(h): h for h in reversed(headers)}
    for alias in REFERENCE_ID_ALIASES:
        if fold_header(alias) in folded:
            return folded[fold_header(alias)]
    raise ConfigError(f"no reference id column among {', '.join(headers)}; pass --column NAME")


@click.command()
@click.argument("batch_id")
@click.argument("reference_ids", nargs=-1, metavar="[REFERENCE_ID]...")
@click.option(
    "--from",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the reference ids from this spreadsheet (CSV, XLSX, ...).",
)
@click.option("--column", default=None, help="Column of --from holding the ids (default: found).")
@click.option("--sheet", default=None, help="Sheet of --from (name or 0-based index).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (needed when not on a terminal).")
@client_options
@json_option
@click.pass_context
def remove(
    ctx: click.Context,
    /,
    batch_id: str,
    reference_ids: tuple[str, ...],
    from_file: Path | None,
    column: str | None,
    sheet: str | None,
    yes: bool,
    as_json: bool,
    **params: Any,
) -> None:
    """Remove requests from a batch so those people are not called.

    Reference ids come from the command line, from a spreadsheet's column (--from), or both.

    \b
    Example:
      syllable-upload remove contacts-20261129-1a2b3c-001 P-1001 P-1002
      syllable-upload remove contacts-20261129-1a2b3c-001 --from opt-outs.xlsx --column "Member ID"
    """
    out = output(ctx, as_json=as_json)
    ids = list(dict.fromkeys(r.strip() for r in reference_ids if r.strip()))
    if from_file is not None:
        options = ReadOptions(sheet=int(sheet) if sheet and sheet.isdigit() else sheet)
        for found in read_reference_ids(from_file, column, options):
            if found not in ids:
                ids.append(found)
    if not ids:
        raise click.UsageError("no reference ids: list them or pass --from FILE")
    _confirm(f"Remove {len(ids):,} request(s) from batch {batch_id}?", yes)
    with _client(ctx, params) as client:
        answer = client.remove_requests(batch_id, ids)
    out.summary(
        {"batch_id": batch_id, "removed": len(ids), "reference_ids": ids, "server": answer},
        f"asked batch {batch_id} to remove {len(ids):,} request(s)",
    )


def register(group: click.Group) -> None:
    """Add ``batches`` and ``remove`` to the CLI."""
    group.add_command(batches)
    group.add_command(remove)
