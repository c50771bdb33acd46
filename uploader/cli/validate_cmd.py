"""``syllable-upload validate FILE``: check a file, send nothing (a thin skin over ``validate``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from uploader.cli.context import output, resolve_settings
from uploader.cli.options import json_option, read_options
from uploader.errors import EXIT_CODES
from uploader.models import RowIssue, ValidationResult

__all__ = ["register", "render_summary", "summary_data", "validate_command"]

_EXAMPLES = 3  # examples shown per problem kind
_TOP = 8  # problem kinds shown


def _examples(result: ValidationResult) -> dict[str, list[RowIssue]]:
    out: dict[str, list[RowIssue]] = {}
    for issue in result.issues:
        bucket = out.setdefault(issue.code, [])
        if len(bucket) < _EXAMPLES:
            bucket.append(issue)
    return out


def summary_data(result: ValidationResult) -> dict[str, Any]:
    """The JSON summary: the library's summary plus mapping and a few example problems."""
    data = result.summary()
    data["mapping"] = {
        "target": result.mapping.target,
        "reference_id": result.mapping.reference_id,
        "generated_reference_ids": result.mapping.generated_reference_ids,
        "variables": list(result.mapping.variables),
    }
    data["examples"] = {
        code: [issue.to_dict() for issue in issues] for code, issues in _examples(result).items()
    }
    return data


def render_summary(result: ValidationResult, report: Path | None = None) -> list[str]:
    """The human summary: counts, the column mapping, the top problems with examples."""
    s = result.summary()
    where = f" (sheet {s['sheet']!r})" if s["sheet"] else ""
    mapping = result.mapping
    ref = mapping.reference_id if mapping.reference_id else "generated"
    lines = [
        f"{s['file']}{where}: {s['rows_read']:,} rows read",
        f"  valid          {s['valid']:,}",
        f"  refused        {s['refused']:,}",
        f"  blank skipped  {s['blank_skipped']:,}",
        f"  columns        target={mapping.target!r}, reference_id={ref!r}, "
        f"{len(mapping.variables)} variables",
    ]
    problems: Mapping[str, int] = s["problems"]
    if problems:
        lines.append("Top problems:")
        examples = _examples(result)
        for code, count in list(problems.items())[:_TOP]:
            lines.append(f"  {code.replace('_', ' ')}: {count:,}")
            lines.extend(f"    {issue.message}" for issue in examples.get(code, []))
        if len(problems) > _TOP:
            lines.append(f"  ... and {len(problems) - _TOP} more kinds")
    if report is not None:
        lines.append(f"Report written to {report}")
    elif problems:
        lines.append("Write every row with its problem beside it: --report problems.xlsx")
    return lines


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every row with upload_status/upload_error beside it (CSV or XLSX by extension).",
)
@read_options
@json_option
@click.pass_context
def validate_command(
    ctx: click.Context, file: Path, report_path: Path | None, as_json: bool, **_: Any
) -> int:
    """Read FILE, check every row, send nothing.

    Exit code 0 when every non-blank row is valid, 1 when some rows are refused, 2 when the
    file cannot be read at all.

    \b
    Example:
      syllable-upload validate contacts.xlsx
      syllable-upload validate export.csv --map target=Mobile --report problems.xlsx
    """
    from uploader.validation import validate

    out = output(ctx, as_json=as_json)
    settings = resolve_settings(ctx)
    with out.progress() as progress:
        result = validate(file, settings.read, progress=progress)
        if report_path is not None:
            from uploader.reporter import write_report

            write_report(
                report_path,
                result,
                settings={"command": "validate", "source": str(file)},
                progress=progress,
            )
    out.summary(summary_data(result), render_summary(result, report_path))
    return EXIT_CODES["rows"] if result.refused_count else EXIT_CODES["ok"]


def register(group: click.Group) -> None:
    group.add_command(validate_command)
