"""The layout's promised name for the receiving edge: `daemon.intake.ingest` is the module.

A face for code outside the package (scripts, an admin's wrapper around
`ingest_now`); nothing inside `daemon/` imports it.
"""

from daemon.intake.ingest import (
    EX_DATAERR,
    EX_OK,
    EX_TEMPFAIL,
    Refused,
    accept,
    envelope_from_environment,
    exit_code_for,
    ingest_now,
)

__all__ = ["EX_DATAERR", "EX_OK", "EX_TEMPFAIL", "Refused", "accept",
           "envelope_from_environment", "exit_code_for", "ingest_now"]
