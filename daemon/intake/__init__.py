"""The receiving edges: the SMTP/LMTP listener, the IMAP poller, `supportd ingest`."""
