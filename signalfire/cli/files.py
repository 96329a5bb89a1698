"""Files named on the command line, tried before a run starts.

A file the command cannot use is a `FileProblem`: one line, `cannot read|write PATH: why (what to
do)`, printed as `signalfire COMMAND: ...` with exit 2 (see `main`).
"""

from __future__ import annotations

import errno
import gzip
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

from signalfire.rules.loader import rule_files
from signalfire.sources import STDIN, open_lines

AGAIN = "copy or generate it again"


class FileProblem(Exception):
    """A file a command cannot use; the message is one line naming the file and the fix."""


def read_problem(path: str | Path, exc: BaseException) -> FileProblem:
    """What went wrong reading `path`, and what to do about it."""
    if isinstance(exc, EOFError):
        why = f"gzip data ends early, the file is truncated ({AGAIN})"
    elif isinstance(exc, zlib.error):
        why = f"corrupt gzip data ({AGAIN})"
    elif isinstance(exc, gzip.BadGzipFile):
        if str(exc).startswith("Not a gzipped file"):
            why = "not gzip data (drop the .gz suffix if it is plain JSONL)"
        else:
            why = f"corrupt gzip data: {exc} ({AGAIN})"
    elif isinstance(exc, IsADirectoryError):
        why = f"is a directory (name the files in it, e.g. {path}/*.jsonl.gz)"
    elif isinstance(exc, FileNotFoundError):
        why = "no such file or directory (check the path)"
    elif isinstance(exc, PermissionError):
        why = "permission denied (make it readable or run as its owner)"
    else:
        why = _strerror(exc)
    return FileProblem(f"cannot read {path}: {why}")


def write_problem(path: str, exc: OSError, flag: str) -> FileProblem:
    """What went wrong creating `path`, and what to do about it."""
    parent = os.path.dirname(path) or "."
    if isinstance(exc, IsADirectoryError):
        why = f"is a directory (give {flag} a file name)"
    elif isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOTDIR:
        why = f"directory {parent} does not exist (create it or give {flag} another path)"
    elif isinstance(exc, PermissionError):
        why = f"permission denied (give {flag} a path you can write)"
    else:
        why = f"{_strerror(exc)} (give {flag} another path)"
    return FileProblem(f"cannot write {path}: {why}")


def check_events_readable(paths: Iterable[str]) -> None:
    """Every events file opens and, if gzip, starts with gzip data (`-` is stdin: untried)."""
    for path in paths:
        if path == STDIN:
            continue
        try:
            with open_lines(path) as fh:
                fh.read(1)  # a gzip file's header is checked on the first read
        except (OSError, EOFError, zlib.error) as exc:
            raise read_problem(path, exc) from None


def check_writable(path: str | None, flag: str) -> None:
    """`path` can be created or overwritten (`-`, stdout, always can); a file the check creates is
    removed again, so that a run that fails before writing leaves nothing behind."""
    if path is None or path == STDIN:
        return
    existed = os.path.lexists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise write_problem(path, exc, flag) from None
    if not existed:
        os.unlink(path)


def check_rules_readable(paths: Iterable[str]) -> None:
    """Every rules path exists and every rule file under it can be opened. What the files say is
    for `load_rules` to judge (`file:line: message`, exit 1)."""
    listed = list(paths)
    for path in listed:
        try:
            if os.path.isdir(path):
                os.scandir(path).close()
            else:
                open(path, "rb").close()
        except OSError as exc:
            raise read_problem(path, exc) from None
    for file in rule_files(listed):
        try:
            open(file, "rb").close()
        except OSError as exc:
            raise read_problem(file, exc) from None


def _strerror(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
