"""The verdict our MTA wrote, believed only above its Received line
(`daemon.scan.headers`, the rule of `daemon.trust.headers`)."""

from __future__ import annotations

from daemon.scan.headers import believed, verdict

OUTSIDE = ("Received", "from mail.bulk.example (mail.bulk.example [203.0.113.9]) by "
           "mx.example.ru (Postfix) with ESMTPS id 4AbC; Tue, 24 Nov 2026 11:00:00 +0300")
LOCAL = ("Received", "from localhost (localhost [127.0.0.1]) by mx.example.ru (Postfix)")


def test_a_header_below_the_outside_hop_is_the_senders_claim() -> None:
    headers = [OUTSIDE, ("X-Spam-Flag", "NO"), ("X-Spam-Status", "No, score=-5.0")]
    assert believed(headers) == []
    assert verdict(headers).action == "no verdict" and not verdict(headers).is_spam


def test_our_mtas_header_above_the_hop_is_believed() -> None:
    headers = [("X-Spam-Flag", "YES"),
               ("X-Spam-Status", "Yes, score=12.3 required=5.0 tests=GTUBE,NO_RELAYS "
                                 "autolearn=no version=4.0.0"),
               OUTSIDE, ("X-Spam-Flag", "NO")]
    v = verdict(headers)
    assert v.is_spam and v.score == 12.3 and v.symbols == ("GTUBE", "NO_RELAYS")


def test_our_own_hops_do_not_end_the_region() -> None:
    headers = [LOCAL, ("X-Rspamd-Action", "reject"), ("X-Rspamd-Score", "16.2"),
               ("Received", "from filter.internal (filter.internal [10.0.0.5]) by mx"),
               ("X-Spamd-Result", "default: True [16.20 / 15.00]; GTUBE(0.00)[]; "
                                  "RDNS_NONE(1.00)[]"), OUTSIDE]
    v = verdict(headers, internal_hosts=("filter.internal",))
    assert v.is_spam and v.score == 16.2 and v.action == "reject"
    assert v.symbols[0] == "RDNS_NONE(1)"
    assert verdict(headers).is_spam  # X-Rspamd-Action above the internal hop counts


def test_a_clean_verdict() -> None:
    v = verdict([("X-Spamd-Result", "default: False [1.20 / 15.00]; MIME_GOOD(-0.10)[]"),
                 OUTSIDE])
    assert not v.is_spam and v.score == 1.2 and v.action == "ham"
