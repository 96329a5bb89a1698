"""RE2 compilation (linear-time matching) with errors as text instead of log lines."""

from __future__ import annotations

from typing import Any

import re2


class RegexError(ValueError):
    pass


def compile_re2(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RegexError(str(detail)) from None
