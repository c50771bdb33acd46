"""Options shared by several commands, declared once and turned into config objects here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "batch_options",
    "client_options",
    "json_option",
    "parse_map",
    "read_options",
    "show_pii_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def parse_map(values: tuple[str, ...]) -> dict[str, str]:
    """``--map target=Mobile`` -> ``{"target": "Mobile"}``, with a clear error on bad syntax."""
    out: dict[str, str] = {}
    for item in values:
        field, sep, column = item.partition("=")
        field = field.strip().lower()
        if not sep or field not in {"target", "reference_id"} or not column.strip():
            raise click.BadParameter(
                f"{item!r}: use FIELD=COLUMN where FIELD is target or reference_id, "
                'e.g. --map target=Mobile --map reference_id="Member ID"',
                param_hint="--map",
            )
        out[field] = column.strip()
    return out


read_options = _stack(
    click.option("--sheet", help="Sheet name or 0-based index (default: first sheet with data)."),
    click.option(
        "--header-row",
        type=click.IntRange(min=1),
        default=None,
        help="Spreadsheet row holding the header, for files with title rows (default 1).",
    ),
    click.option(
        "--map",
        "column_map",
        multiple=True,
        metavar="FIELD=COLUMN",
        help="Use COLUMN for target or reference_id, e.g. --map target=Mobile.",
    ),
    click.option(
        "--exclude", multiple=True, metavar="COLUMN", help="Leave COLUMN out of the variables."
    ),
    click.option(
        "--region", default=None, help="Default region for numbers without +country (US)."
    ),
    click.option(
        "--generate-reference-ids",
        is_flag=True,
        default=None,
        help="Make stable ids (same file, same ids) when there is no id column.",
    ),
    click.option(
        "--dedupe-targets", is_flag=True, default=None, help="Refuse repeated phone numbers."
    ),
    click.option(
        "--require-vars",
        default=None,
        metavar="A,B",
        help="Variables every row must have (comma-separated).",
    ),
    click.option(
        "--mapping",
        "mapping_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="TOML mapping file with saved column settings.",
    ),
    click.option("--encoding", default=None, help="Text encoding of CSV/TSV (default: detect)."),
    click.option("--delimiter", default=None, help="CSV delimiter (default: sniff , ; tab |)."),
)

client_options = _stack(
    click.option(
        "--server-url",
        envvar="SYLLABLE_SERVER_URL",
        default=None,
        help="API base URL (default https://api.syllable.cloud; env SYLLABLE_SERVER_URL).",
    ),
    click.option(
        "--api-key-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="File holding the API key (else env SYLLABLE_API_KEY or the profile).",
    ),
    click.option(
        "--insecure",
        is_flag=True,
        default=False,
        help="Turn TLS certificate verification off (prints a warning; never for production).",
    ),
    click.option("--timeout", type=float, default=None, help="Per-request timeout in seconds."),
)

#: How rows are grouped into batches: ``plan`` must make exactly the batches ``upload`` would,
#: so both take these from here.
batch_options = _stack(
    click.option("--campaign-id", type=int, default=None, help="Campaign new batches call for."),
    click.option(
        "--mode",
        type=click.Choice(["upload", "add"]),
        default=None,
        help="upload: one CSV file per batch (default); add: one request per row (needed to "
        "add to a batch that already exists).",
    ),
    click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Rows per batch."),
    click.option("--batch-id", default=None, help="Put every row in this batch (add: may exist)."),
    click.option(
        "--batch-id-template",
        default=None,
        help="Batch id template: {stem} {date} {hash} {n} {campaign} "
        "({stem}-{date}-{hash}-{n:03d}).",
    ),
    click.option(
        "--sample", type=click.IntRange(min=1), default=None, help="Trial: the first N rows only."
    ),
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one machine-readable JSON summary on stdout."
)

show_pii_option = click.option(
    "--show-pii",
    "show_pii",
    is_flag=True,
    help="Show phone numbers and variable values in full (masked by default on screen and in "
    "logs; reports keep full values). Same as the global --show-pii.",
)
