"""One exception root for the project's own errors, so the CLI can print them as one line."""

from __future__ import annotations


class TartanError(Exception):
    """An error the user can fix; the message says where and what to do."""


class ConfigurationError(TartanError):
    """Every problem found in one experiment config, reported together."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        return f"{len(self.problems)} config errors:\n" + "\n".join(f"  {p}" for p in self.problems)


class DataError(TartanError):
    """Bad or missing data; the message names the file (and line)."""


class StorageError(TartanError):
    """A file could not be written (disk full, read-only folder); the message names it."""


class RunLocked(TartanError):
    """Another live process writes the run directory; the message names its pid."""


class TrainingInterrupted(TartanError):
    """SIGINT or SIGTERM stopped training after a checkpoint; the message says how to resume."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signal_number
