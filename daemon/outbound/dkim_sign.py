"""DKIM signatures on the letters the desk sends (§5.11: so that the clients' spam
filters let the registration letter through).

With `[outbound] dkim_selector` and `dkim_key_file` set, every letter is signed as
it is handed to the relay or the Maildir (dkimpy, rsa-sha256, relaxed/relaxed), so
a letter queued before a key change goes out under the new key. The domain is
`[outbound] dkim_domain`, or the support address's. Signing costs ~13 ms a letter
on one core (dkimpy's RSA is pure Python): the outbox thread's time, not the
pipeline's.
"""

from __future__ import annotations

from pathlib import Path

import dkim

# What a receiver shows or threads by; signed when present. From twice: a From
# added on the way cannot pass as ours (RFC 6376 §8.15 oversigning).
SIGNED_HEADERS = (b"from", b"from", b"to", b"cc", b"subject", b"date", b"message-id",
                  b"in-reply-to", b"references", b"reply-to", b"mime-version",
                  b"content-type", b"content-transfer-encoding", b"auto-submitted")


class Signer:
    def __init__(self, selector: str, domain: str, key_file: str) -> None:
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("idna")
        self.key = Path(key_file).read_bytes()
        dkim.crypto.parse_pem_private_key(self.key)  # a broken key fails here, not per letter

    def __call__(self, raw: bytes) -> bytes:
        signature = dkim.sign(raw, self.selector, self.domain, self.key,
                              include_headers=list(SIGNED_HEADERS),
                              canonicalize=(b"relaxed", b"relaxed"))
        return signature + raw
