"""``template``, ``demo``, ``watch`` and ``config show``: the commands around the core pipeline.

Each is a thin skin over one library function (:func:`uploader.templates.write_templates`,
:func:`uploader.demo.run_demo`, :func:`uploader.watch.watch_folder`,
:func:`uploader.settings.resolve`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click

from uploader.cli.context import cli_state, output, resolve_settings
from uploader.cli.options import client_options, json_option
from uploader.templates import write_samples, write_templates

__all__ = ["config_group", "demo", "register", "template", "watch"]


@click.command()
@click.argument(
    "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."), required=False
)
@click.option("--samples", is_flag=True, help="Also write the sample contact files.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@json_option
@click.pass_context
def template(ctx: click.Context, folder: Path, samples: bool, force: bool, as_json: bool) -> None:
    """Write the spreadsheet templates and example settings into FOLDER (default: here).

    Writes contacts-template.xlsx (phone column formatted as text, an Instructions sheet, an
    example row), contacts-template.csv, config.example.toml (profiles), settings.example.toml
    (drop folder), mapping.example.toml (column mapping) and crontab.example.

    \b
    Example:
      syllable-upload template ./syllable-templates
      syllable-upload template . --samples      # plus clean and messy sample files
    """
    out = output(ctx, as_json=as_json)
    written = write_templates(folder, overwrite=force)
    if samples:
        written += write_samples(folder, overwrite=force)
    out.summary(
        {"folder": str(folder), "files": [str(p) for p in written]},
        [f"wrote {p}" for p in written],
    )


@click.group("config")
def config_group() -> None:
    """Inspect the effective configuration (config file profiles, environment, flags).

    \b
    Example:
      syllable-upload config show
      syllable-upload --profile staging config show --json
    """


@config_group.command("show")
@client_options
@click.option("--campaign-id", type=int, default=None, help="As upload would take it.")
@json_option
@click.pass_context
def config_show(ctx: click.Context, /, as_json: bool, **params: Any) -> None:
    """Print every effective setting, where it came from, with the API key masked.

    Precedence, highest first: flags > environment > profile > defaults. Flags given here are
    shown as the upload command would apply them.

    \b
    Example:
      syllable-upload config show
      SYLLABLE_CAMPAIGN_ID=7 syllable-upload --profile prod config show --server-url http://x
    """
    out = output(ctx, as_json=as_json)
    resolved = resolve_settings(ctx, params)
    rows = resolved.describe()
    data = {
        "config_file": str(resolved.config_path),
        "config_file_found": resolved.config_found,
        "profile": resolved.profile,
        "settings": {
            row["setting"]: {"value": row["value"], "source": row["source"]} for row in rows
        },
    }
    found = "" if resolved.config_found else "  (not found: using defaults)"
    lines = [
        f"config file: {resolved.config_path}{found}",
        f"profile:     {resolved.profile or '(none)'}",
        "",
    ]
    width = max(len(row["setting"]) for row in rows)
    value_width = min(40, max(len(row["value"]) for row in rows))
    for row in rows:
        lines.append(f"{row['setting']:<{width}}  {row['value']:<{value_width}}  {row['source']}")
    out.summary(data, lines)


@config_group.command("init")
@click.option("--force", is_flag=True, help="Replace an existing config file.")
@click.pass_context
def config_init(ctx: click.Context, force: bool) -> None:
    """Write an example config file (profiles) where the tool looks for it, to edit.

    Uses --config PATH when given, else the default location shown by ``config show``.

    \b
    Example:
      syllable-upload config init && syllable-upload config show
    """
    from uploader.errors import ConfigError
    from uploader.settings import default_config_path
    from uploader.templates import TEMPLATE_FILES

    state = cli_state(ctx)
    path = state.config_path or default_config_path()
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; edit it, or pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE_FILES["config.example.toml"](path)
    output(ctx).summary({"config_file": str(path)}, f"wrote {path}; edit it, then: config show")


# --------------------------------------------------------------------------- demo and watch


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("syllable-demo-output"),
    show_default=True,
    help="Folder for the samples, reports and journal.",
)
@click.option(
    "--time-scale",
    type=float,
    default=600.0,
    show_default=True,
    help="How much faster than real time the emulator's simulated calls run.",
)
@json_option
@click.pass_context
def demo(ctx: click.Context, out_dir: Path, time_scale: float, as_json: bool) -> None:
    """Run everything end to end against a local emulator: nothing leaves this machine.

    Starts the Syllable API emulator in this process, writes the sample files, validates and
    uploads them, waits for the simulated calls to finish, and writes one results report per file
    (XLSX, every row with its outcome) into --out.

    \b
    Example:
      syllable-upload demo
      syllable-upload demo --out /tmp/demo --json
    """
    from uploader.demo import run_demo

    out = output(ctx, as_json=as_json)
    out.note("Demo: local emulator on 127.0.0.1 — nothing leaves this machine.")
    with out.progress() as progress:
        result = run_demo(out_dir, time_scale=time_scale, progress=progress)
    out.summary(result.to_dict(), result.render())


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_on_signals(stop: threading.Event, out: Any) -> Iterator[None]:
    """First SIGINT/SIGTERM: finish the current file, then stop. Second: interrupt now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        out.note(f"{signal.Signals(signum).name}: finishing the current file, then stopping.")

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Process what is ready, then exit (for cron).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between looks at inbox/ (without --once).",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0.0),
    default=2.0,
    show_default=True,
    help="A file is picked up once its size has not changed for this many seconds.",
)
@click.option("--campaign-id", type=int, default=None, help="Overrides settings.toml.")
@client_options
@json_option
@click.pass_context
def watch(
    ctx: click.Context,
    /,
    folder: Path,
    once: bool,
    interval: float,
    settle: float,
    as_json: bool,
    **params: Any,
) -> None:
    """Send every spreadsheet dropped into FOLDER/inbox, once, and file it with its report.

    Creates FOLDER/inbox, processing, done and failed. A file is picked up once its size stops
    changing, validated and sent with FOLDER/settings.toml (same keys as a config profile), then
    moved with its report to done/ (every row accepted) or failed/ (unreadable, or some rows
    refused, rejected or failed: the report says which and why). The same content is never sent
    twice. Without --once it runs until Ctrl-C or SIGTERM, which let the current file finish.

    \b
    Exit codes: 0 all done (or nothing to do), 1 some file went to failed/, 2 fatal (settings,
    key, API unreachable), 3 another watch holds FOLDER's lock, 5 a large send needs
    assume_yes = true in settings.toml. On 2 and 5 the file waits in processing/.

    \b
    Example:
      syllable-upload watch ~/syllable-drop
      syllable-upload -q --log-file watch.log watch ~/syllable-drop --once    # from cron
    """
    from uploader.errors import ConfigError
    from uploader.settings import load_settings_file
    from uploader.watch import DropFolder, watch_folder

    out = output(ctx, as_json=as_json)
    settings_path = folder / "settings.toml"
    folder_settings = load_settings_file(settings_path) if settings_path.is_file() else {}
    resolved = resolve_settings(
        ctx,
        params,
        folder_settings=folder_settings,
        folder_label=f"folder settings ({settings_path})",
        folder_dir=folder,
    )
    if resolved.upload.campaign_id is None and resolved.upload.batch_id is None:
        raise ConfigError(
            f"no campaign_id for {folder}: put campaign_id = N in {settings_path} "
            "(or pass --campaign-id)"
        )
    resolved.require_api_key()  # fail before touching any file, not on the first one
    drop = DropFolder(folder)
    stop = threading.Event()
    if not once:
        out.note(f"Watching {drop.inbox} (every {interval:g}s); Ctrl-C to stop.")
    with _stop_on_signals(stop, out), out.progress() as progress:
        report = watch_folder(
            drop,
            resolved,
            once=once,
            interval=interval,
            settle=settle,
            stop=stop,
            progress=progress,
            on_file=lambda outcome: (
                out.note(outcome.describe())
                if outcome.status in {"done", "duplicate"}
                else out.warn(outcome.describe())
            ),
        )
    out.summary(report.to_dict(), report.render())
    ctx.exit(report.exit_code)


def register(group: click.Group) -> None:
    """Add ``template``, ``demo``, ``watch`` and ``config`` to the CLI."""
    group.add_command(template)
    group.add_command(demo)
    group.add_command(watch)
    group.add_command(config_group)
