"""``syllable-upload plan FILE``: what an upload would do to the target batches; changes nothing.

A thin skin over :func:`uploader.planner.plan`: prints the plan (masked), writes it as JSON
(full values) for ``upload --plan-file`` to apply exactly.
"""

from __future__ import annotations

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
from uploader.errors import EXIT_CODES
from uploader.planner import Plan

__all__ = ["plan_command", "register", "render_plan"]

_LISTED = 20  # conflicts / refused rows listed on screen (all of them are in the plan file)


def render_plan(result: Plan, out: Path | None, command: str | None = None) -> list[str]:
    """The human view of a plan: counts, batches, the rows that need a look, how to apply."""
    counts = result.counts()
    lines = [
        f"{result.file}: plan {result.plan_id} (nothing was changed)",
        f"  new        {counts['new']:>8,}  will be sent",
        f"  identical  {counts['identical']:>8,}  already in the batch, skipped",
        f"  conflict   {counts['conflict']:>8,}  in the batch with other values, not sent",
        f"  refused    {counts['refused']:>8,}  fail validation, not sent",
        f"  blank      {counts['blank']:>8,}",
        "Batches:",
    ]
    for b in result.batches:
        state = f"exists, holds {b.held:,}" if b.exists else "new"
        lines.append(
            f"  {b.batch_id}  ({state})  new {b.new:,}, identical {b.identical:,}, "
            f"conflict {b.conflict:,}"
        )
    conflicts = result.rows_by("conflict")
    if conflicts:
        lines.append("Conflicts (reference_id already in the batch with other values):")
        for row in conflicts[:_LISTED]:
            detail = f"target {row.target}"
            if row.server_target and row.server_target != row.target:
                detail += f" (server: {row.server_target})"
            lines.append(f"  row {row.row_number}  {row.reference_id!r}  {detail}: {row.message}")
        if len(conflicts) > _LISTED:
            lines.append(f"  ... and {len(conflicts) - _LISTED:,} more (all in the plan file)")
    refused = result.rows_by("refused")
    if refused:
        lines.append("Refused by validation:")
        lines.extend(f"  {row.message}" for row in refused[:_LISTED])
        if len(refused) > _LISTED:
            lines.append(f"  ... and {len(refused) - _LISTED:,} more (all in the plan file)")
    if out is not None:
        lines.append(f"Plan written to {out}")
        lines.append(
            "Apply exactly this plan (refused if the file or the server changed meanwhile):"
        )
        lines.append(f"  {command or 'syllable-upload upload FILE ...'} --plan-file {out}")
    return lines


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@batch_options
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the plan (default: FILE's name + .plan.json beside it).",
)
@read_options
@client_options
@show_pii_option
@json_option
@click.pass_context
def plan_command(
    ctx: click.Context,
    file: Path,
    out_path: Path | None,
    show_pii: bool,
    as_json: bool,
    **_: Any,
) -> int:
    """Show what uploading FILE would do to its batches, and write a plan; send nothing.

    Reads and validates FILE, reads the target batches from the server, and sorts every row:
    new (will be sent), identical (already there, skipped), conflict (already there with another
    target or variables, listed), refused (fails validation). `upload --plan-file` then applies
    exactly that plan, and refuses (exit 4) if the file or the server changed since.

    \b
    Example:
      syllable-upload plan contacts.csv --batch-id spring-recall --mode add
      syllable-upload upload contacts.csv --batch-id spring-recall --mode add \\
          --plan-file contacts.plan.json
    """
    from uploader.planner import default_plan_path, plan, write_plan
    from uploader.validation import validate

    state = cli_state(ctx)
    if show_pii:
        state.masker.enabled = False
    out = output(ctx, as_json=as_json)
    settings = resolve_settings(ctx)
    with out.progress() as progress:
        validation = validate(file, settings.read, progress=progress)
        skip = {validation.mapping.reference_id} if validation.mapping.reference_id else set()
        state.masker.remember_issues(validation.issues, skip_columns=skip)
        result = plan(
            file,
            settings.read,
            settings.upload,
            settings.client,
            validation=validation,
            progress=progress,
        )
    for row in result.rows_by("conflict"):
        state.masker.remember((row.server_variables or {}).values())
    target = out_path or default_plan_path(file)
    write_plan(result, target)
    data = result.summary()
    data["plan_file"] = str(target)
    out.summary(data, render_plan(result, target))
    counts = result.counts()
    return EXIT_CODES["rows"] if counts["conflict"] or counts["refused"] else EXIT_CODES["ok"]


def register(group: click.Group) -> None:
    group.add_command(plan_command)
