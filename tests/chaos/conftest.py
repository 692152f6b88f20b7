"""The chaos suite's summary lines (seed, faults by kind, invariant counts) are printed at the
end of the run by the terminal reporter, so that `pytest -q` shows them in CI output."""

from __future__ import annotations

import pytest

SUMMARY = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SUMMARY] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("chaos")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def chaos_summary(request: pytest.FixtureRequest) -> list[str]:
    """Append a line here to have it printed in the terminal summary."""
    return request.config.stash.setdefault(SUMMARY, [])
