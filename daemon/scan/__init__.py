"""Spam and malware checks before any answer (regulation §5.11): the verdicts, and the
clients of the scanners that give them (rspamd, spamd, clamd)."""
