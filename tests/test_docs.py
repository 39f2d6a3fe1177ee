"""The README and the CLI agree: every command is documented, every command line the README shows is real."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer.main

from bulkio.cli.app import app

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
COMMAND = typer.main.get_command(app)  # a click-style group: .commands maps names to commands


def _readme_command_lines() -> list[list[str]]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith(("bulkio ", ".venv/bin/bulkio ")):
                lines.append(shlex.split(line)[1:])
    return lines


def test_every_command_is_documented_with_help() -> None:
    for name, command in COMMAND.commands.items():
        assert f"bulkio {name}" in README, f"README does not show `bulkio {name}`"
        assert command.help, f"`bulkio {name}` has no help text"


def test_every_readme_command_line_uses_real_commands_and_options() -> None:
    lines = _readme_command_lines()
    assert len(lines) >= 5
    for words in lines:
        name = words[0]
        assert name in COMMAND.commands, f"README shows unknown command {name!r}"
        options = {opt for param in COMMAND.commands[name].params for opt in getattr(param, "opts", [])}
        options |= {opt for param in COMMAND.commands[name].params for opt in getattr(param, "secondary_opts", [])}
        for word in words[1:]:
            if word.startswith("-"):
                assert word.split("=")[0] in options, f"`bulkio {name}` has no option {word}"


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (Path(__file__).parents[1] / "Makefile").read_text(encoding="utf-8")
    for target in set(re.findall(r"^make (\w+)", README, re.M)):
        assert re.search(rf"^{target}:", makefile, re.M), f"README runs `make {target}`, the Makefile lacks it"
