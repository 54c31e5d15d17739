"""Long commands show a bar with the time left in a terminal, and nothing
when their output goes to a pipe or a file."""

from __future__ import annotations

import io

from app import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_nothing():
    piped = io.StringIO()
    with progress.bar("export people", total=10, stream=piped) as bar:
        bar.advance(5)
        bar.update(10)
    assert piped.getvalue() == ""


def test_a_terminal_gets_a_bar_with_the_count():
    terminal = Terminal()
    with progress.bar("export people", total=1200, stream=terminal) as bar:
        bar.advance(500)
        bar.advance(700)
    shown = terminal.getvalue()
    assert "export people" in shown and "1200/1200" in shown


def test_the_export_command_keeps_its_csv_clean(runner, app):
    result = runner.invoke(args=["export", "people"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("id,email,name,status")
    assert "export people" not in result.output
