"""``syllable-upload``: a thin click skin over the library.

Every command parses its flags, builds config objects, calls one library function and renders the
result. Errors are caught once, in :func:`main`, printed as one line and mapped to the exit codes of
:data:`uploader.errors.EXIT_CODES`; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from uploader.errors import EXIT_CODES, UploaderError
from uploader.pii import Masker, PiiFilter

__all__ = ["CliState", "cli", "main"]

#: Command modules under ``uploader.cli``; each defines click commands and a ``register(group)``.
COMMAND_MODULES = (
    "emulator_cmd",
    "validate_cmd",
    "upload_cmd",
    "results_cmd",
    "batches_cmd",
    "plan_cmd",
    "misc_cmd",
)


@dataclass
class CliState:
    """Global flags shared by every command (set on the group, read by the commands)."""

    debug: bool = False
    quiet: bool = False
    log_file: Path | None = None
    config_path: Path | None = None
    profile: str | None = None
    show_pii: bool = False
    #: Masks phone numbers and known values in everything printed or logged (off: --show-pii).
    masker: Masker = field(default_factory=Masker)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="syllable-bulk-uploader", prog_name="syllable-upload")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success (for cron).")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append logs (PII masked) to this file.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SYLLABLE_UPLOAD_CONFIG",
    help="TOML config file with profiles (default: in the user config directory).",
)
@click.option("--profile", envvar="SYLLABLE_PROFILE", help="Named profile in the config file.")
@click.option(
    "--show-pii",
    is_flag=True,
    help="Show phone numbers and variable values in full on screen and in logs (masked by "
    "default; reports always keep full values).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    debug: bool,
    quiet: bool,
    log_file: Path | None,
    config_path: Path | None,
    profile: str | None,
    show_pii: bool,
) -> None:
    """Load contact spreadsheets into Syllable outbound batches, safely and exactly once.

    \b
    Example:
      syllable-upload demo                      # everything end to end on a local emulator
      syllable-upload validate contacts.xlsx    # check a file, send nothing
      syllable-upload upload contacts.xlsx --campaign-id 7 --report out.xlsx
    """
    ctx.obj = CliState(
        debug=debug,
        quiet=quiet,
        log_file=log_file,
        config_path=config_path,
        profile=profile,
        show_pii=show_pii,
        masker=Masker(enabled=not show_pii),
    )
    _setup_logging(ctx.obj)
    _LAST_MASKER[0] = ctx.obj.masker


def _setup_logging(state: CliState) -> None:
    logger = logging.getLogger("uploader")
    for handler in logger.handlers:  # an earlier in-process run's handlers (tests, embedding)
        handler.close()
    logger.handlers.clear()
    logger.setLevel(logging.DEBUG if state.debug else logging.INFO)
    logger.propagate = False
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.DEBUG if state.debug else logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    stderr.addFilter(PiiFilter(state.masker))
    logger.addHandler(stderr)
    if state.log_file:
        handler = logging.FileHandler(state.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(PiiFilter(state.masker))
        logger.addHandler(handler)


#: The masker of the latest invocation, so ``main`` masks the one-line error it prints too.
_LAST_MASKER: list[Masker] = [Masker()]


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"uploader.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command module not written yet
        if _exc.name != f"uploader.cli.{_name}":
            raise
        continue
    _module.register(cli)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (testable, embeddable)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _LAST_MASKER[0] = Masker(enabled="--show-pii" not in args)
    try:
        result = cli.main(args=args, prog_name="syllable-upload", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_CODES["interrupted"]
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except UploaderError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {_LAST_MASKER[0](str(exc))}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted; the journal is safe, rerun the same command to resume.", err=True)
        return EXIT_CODES["interrupted"]
    return int(result or 0)


def run() -> None:
    sys.exit(main())
