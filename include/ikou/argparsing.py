"""The argument parser of every ``ikou`` command: the exit-code table in its ``--help`` and a
bad argument as one :class:`~ikou.errors.BadArgument` line (exit 2), not argparse's usage dump.

A primitive (argparse and :mod:`ikou.errors` only), so that the commands with parsers of their
own (``ikou stack``, ``ikou bench``) use it too.
"""

from __future__ import annotations

import argparse

from ikou.errors import BadArgument, exit_code_epilog


class Formatter(argparse.HelpFormatter):
    """Wraps one-line texts as usual; keeps texts of several lines (the exit-code table) as
    they are written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the exit-code table as epilog; errors raise
    :class:`BadArgument` naming the command (the top-level handler prints it, exit 2)."""

    def __init__(self, *args, **kwargs):
        epilog = kwargs.get("epilog")
        table = exit_code_epilog()
        kwargs["epilog"] = f"{epilog}\n\n{table}" if epilog else table
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise BadArgument(f"{message} (see `{self.prog} --help`)")


def with_exit_codes(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the exit-code table to a parser built elsewhere (and make its errors one line)."""
    table = exit_code_epilog()
    if not parser.epilog or "exit codes:" not in parser.epilog:
        parser.epilog = f"{parser.epilog}\n\n{table}" if parser.epilog else table
        if parser.formatter_class is argparse.HelpFormatter:
            parser.formatter_class = Formatter
    if not isinstance(parser, Parser):

        def error(message: str):
            raise BadArgument(f"{message} (see `{parser.prog} --help`)")

        parser.error = error  # type: ignore[method-assign]
    return parser
