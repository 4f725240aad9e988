"""The layout's promised name for TID parsing: `daemon.mail.threading_tid` is the module.

A face for code outside the package (the benchmarks, an admin's script); nothing
inside `daemon/` imports it.
"""

from daemon.mail.threading_tid import (
    DEFAULT_PREFIX,
    damm_check_digit,
    find_tid,
    format_tid,
    normalize_subject,
    parse_tid,
    strip_reply_prefixes,
    tagged_subject,
)

__all__ = ["DEFAULT_PREFIX", "damm_check_digit", "find_tid", "format_tid",
           "normalize_subject", "parse_tid", "strip_reply_prefixes", "tagged_subject"]
