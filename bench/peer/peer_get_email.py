"""`manage.py get_email` for the benchmark, with one shim, stated in bench/RESULTS.md.

django-helpdesk reads a local-folder letter with `open(path, "r")`: text mode in
the locale's encoding, strict. Under a UTF-8 locale the first 8-bit KOI8-R or
windows-1251 letter raises UnicodeDecodeError, which ends the whole queue pass
(and every later pass stops at the same letter). The shim makes that one `open`
in `helpdesk.email` decode Latin-1, which maps every byte to one character, so
the stdlib parser gets the bytes back intact when it decodes a part (8-bit
payloads are re-encoded with raw-unicode-escape); nothing else about the peer
changes. `--stock` runs the command untouched.
"""

import builtins
import sys

import django

django.setup()

import helpdesk.email  # noqa: E402
from django.core.management import call_command  # noqa: E402

_open = builtins.open


def tolerant_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
    if "b" not in mode and not args and "encoding" not in kwargs:
        kwargs.update(encoding="latin-1")
    return _open(file, mode, *args, **kwargs)


if "--stock" not in sys.argv:
    helpdesk.email.open = tolerant_open  # a module global shadows the builtin there only
call_command("get_email", "--quiet")
