"""Errors and warnings raised at the boundary, and the command-line guard that reports them.

A :class:`DataError` or :class:`ConfigError` is a problem with what the user gave us (a file,
a column, a row, a configuration value), never a bug: the command line prints its message on
one line, without a traceback, and exits with status 2.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence

__all__ = ["EXIT_USAGE", "ConfigError", "DataError", "DataWarning", "guarded_main"]

#: Exit status for bad input (the convention of argparse and the Unix tools).
EXIT_USAGE = 2


class DataError(ValueError):
    """A data file is missing, unreadable, or fails schema validation."""


class ConfigError(ValueError):
    """A configuration value, command-line option or model name is invalid."""


class DataWarning(UserWarning):
    """A data-quality issue that does not stop the study (always reported with a count)."""


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    label = "warning" if issubclass(category, DataWarning) else category.__name__
    print(f"{label}: {message}", file=sys.stderr)


def guarded_main(main: Callable[[Sequence[str] | None], int]) -> Callable[..., int]:
    """Wrap a command-line ``main(argv) -> int`` so bad input exits 2 without a traceback.

    Data warnings are printed as one ``warning: ...`` line each on standard error.
    """

    def wrapper(argv: Sequence[str] | None = None) -> int:
        previous = warnings.showwarning
        warnings.showwarning = _show_warning
        try:
            return main(argv)
        except (DataError, ConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print("interrupted: nothing half-written was left behind", file=sys.stderr)
            return 130
        finally:
            warnings.showwarning = previous

    wrapper.__doc__ = main.__doc__
    wrapper.__name__ = getattr(main, "__name__", "main")
    return wrapper
