"""The layout's promised name for the letters the daemon writes:
`daemon.outbound.notifier` is the module.

A face for code outside the package; nothing inside `daemon/` imports it.
"""

from daemon.outbound.notifier import Incoming, LevelView, Notifier, make_environment

__all__ = ["Incoming", "LevelView", "Notifier", "make_environment"]
