"""The daemon under systemd: the listener's process, its outbox thread and sweep, the
pipeline processes, sd_notify, logs.
"""
