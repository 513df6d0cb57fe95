"""One exit-code table for every ``ikou`` command, and the exceptions that carry a code.

A primitive: it imports nothing of Ikou. Library code raises one of these (or a subclass of
its own) with a one-line message that says what is wrong, where, and what is allowed — never a
personal value. The command line's top-level handler (``ikou.cli.main``) prints that line on
stderr and exits with the class's code; anything else is an internal error (exit 70, "run with
--debug"), and no traceback reaches stderr unless ``ikou --debug`` asked for it.

| code | meaning |
|------|---------|
| 0    | ok |
| 1    | refused, or a check failed (cutover guard, land, gate …) |
| 2    | bad arguments (an option's value, a combination, a name the input lacks) |
| 3    | broken copybook |
| 4    | unreadable input / unwritable output, or an unreachable service ("cannot reach …") |
| 5    | the input does not fit its record format |
| 6    | control mismatch (trailer record count, control total, missing header / trailer) |
| 70   | internal error (a bug: run with --debug and report it) |
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_COPYBOOK = 3
EXIT_IO = 4
EXIT_FORMAT = 5
EXIT_CONTROL = 6
EXIT_INTERNAL = 70

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "ok",
    EXIT_REFUSED: "refused, or a check failed",
    EXIT_USAGE: "bad arguments",
    EXIT_COPYBOOK: "broken copybook",
    EXIT_IO: "unreadable input / unwritable output, or an unreachable service",
    EXIT_FORMAT: "the input does not fit its record format",
    EXIT_CONTROL: "control mismatch (trailer count, control total, missing header / trailer)",
    EXIT_INTERNAL: "internal error (run with --debug)",
}


def exit_code_epilog() -> str:
    """The table as an argparse epilog (every command's ``--help`` ends with it)."""
    lines = ["exit codes:"]
    lines += [f"  {code:>2}  {meaning}" for code, meaning in EXIT_CODES.items()]
    return "\n".join(lines)


class IkouError(Exception):
    """An error the user can act on: one line, and the exit code of its class."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class Refused(IkouError):
    """A check said no (exit 1): the message lists why."""

    exit_code = EXIT_REFUSED


class BadArgument(IkouError, ValueError):
    """An argument is malformed or out of range (exit 2): name the option and what is allowed."""

    exit_code = EXIT_USAGE


class BrokenCopybook(IkouError, ValueError):
    """The copybook cannot be parsed or laid out (exit 3): name the file and the line."""

    exit_code = EXIT_COPYBOOK


class Unreadable(IkouError):
    """An input cannot be read or an output cannot be written (exit 4)."""

    exit_code = EXIT_IO


class Unreachable(Unreadable):
    """A service does not answer (exit 4): "cannot reach …" naming it, without credentials."""


class RecordFormatMismatch(IkouError, ValueError):
    """The input does not fit its record format (exit 5)."""

    exit_code = EXIT_FORMAT


class ControlMismatch(IkouError):
    """Trailer count, control total, or a declared header / trailer does not match (exit 6)."""

    exit_code = EXIT_CONTROL
