"""The CLI edge: where flags, ``os.environ`` and the config file become one typed settings object.

Commands call :func:`resolve_settings` with their own parameters; only values the user typed on
the command line count as flags (click's ``envvar=`` values reach
:func:`uploader.settings.resolve` as environment instead, so ``config show`` can say where each
value came from).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from uploader.cli.progress import Output
from uploader.settings import ResolvedSettings, resolve

__all__ = ["cli_state", "output", "resolve_settings"]


def cli_state(ctx: click.Context) -> Any:
    """The group's :class:`~uploader.cli.CliState` (a fresh default one outside the group)."""
    from uploader.cli import CliState

    state = ctx.find_object(CliState)
    return state if state is not None else CliState()


def output(ctx: click.Context, *, as_json: bool = False) -> Output:
    """The command's :class:`Output`, honouring the group's ``--quiet``."""
    state = cli_state(ctx)
    return Output(quiet=bool(state.quiet), as_json=as_json, mask=getattr(state, "masker", None))


def resolve_settings(
    ctx: click.Context,
    params: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    folder_settings: Mapping[str, Any] | None = None,
    folder_label: str = "folder settings",
    folder_dir: Path | None = None,
) -> ResolvedSettings:
    """Settings for this command: its command-line params > env > folder > profile > defaults."""
    params = dict(ctx.params if params is None else params)
    flags = {}
    for name, value in params.items():
        source = ctx.get_parameter_source(name)
        if source in (ParameterSource.ENVIRONMENT, ParameterSource.DEFAULT):
            continue  # the environment is read below, defaults live in the settings table
        flags[name] = value
    state = cli_state(ctx)
    return resolve(
        flags=flags,
        environ=os.environ if environ is None else environ,
        config_path=state.config_path,
        profile=state.profile,
        folder_settings=folder_settings,
        folder_label=folder_label,
        folder_dir=folder_dir,
    )
