"""Letters the daemon writes: the notifier (what to say), letter building (MIME), the
outbox (sending), Russian words.
"""
