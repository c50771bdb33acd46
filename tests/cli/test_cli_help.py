"""Every command has help with an example (as sqlite-utils' test_docs keeps its docs honest)."""

from __future__ import annotations

import click
import pytest

from uploader.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


COMMANDS = _commands(cli)


def test_the_commands_this_area_owns_are_registered() -> None:
    names = {path[0] for path in COMMANDS}
    assert {"template", "demo", "watch", "config"} <= names
    assert ("config", "show") in COMMANDS


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "(group)")
def test_help_has_a_description_and_an_example(run_cli, path: tuple[str, ...]) -> None:
    code, out, err = run_cli(*path, "--help")
    assert code == 0, err
    assert "Usage: syllable-upload" in out
    assert "Example" in out, f"`syllable-upload {' '.join(path)} --help` shows no example"
    body = out.split("\n\n", 2)[1].strip() if "\n\n" in out else ""
    assert body, "no description"


def test_version(run_cli) -> None:
    code, out, _ = run_cli("--version")
    assert code == 0
    assert "syllable-upload" in out
