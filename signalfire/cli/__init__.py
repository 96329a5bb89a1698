"""The `signalfire` command line."""

from signalfire.cli.main import main

__all__ = ["main"]
