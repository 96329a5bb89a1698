"""Where the shipped rule catalogue is, wherever the command line runs from.

The catalogue (`rules/`) ships beside the `signalfire` package: in a checkout and in the
editable install that `make` sets up it is found from the package's own location. An install
without it (a wheel) falls back to `rules/` in the working directory, as in the worker image.
"""

from __future__ import annotations

from pathlib import Path

import signalfire

BESIDE_PACKAGE = Path(signalfire.__file__).resolve().parent.parent / "rules"


def shipped_rules() -> str:
    """The catalogue beside the package, else `rules` in the working directory."""
    return str(BESIDE_PACKAGE) if BESIDE_PACKAGE.is_dir() else "rules"


def catalogue_help() -> str:
    return f"the shipped catalogue, {shipped_rules()}"
