"""The one base of the errors the library raises about what it was given.

Every such error says which file, field or parameter was wrong and what was
expected, so command lines show the message alone, not a traceback.
"""

from __future__ import annotations

import sys
from typing import Callable


class RptganError(Exception):
    """A file, setting or value the library cannot use; each module has its own subclass."""


def run_command(main: Callable[[], object]) -> None:
    """Run a command line's ``main``: an ``RptganError`` ends it with its message on stderr and
    exit status 2 (argparse's, for a bad argument) instead of a traceback."""
    try:
        main()
    except RptganError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
