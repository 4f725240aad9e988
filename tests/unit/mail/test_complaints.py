"""Libraries' complaints gathered per letter, and the throttle for the rest."""

from __future__ import annotations

import logging

from daemon.mail import complaints
from daemon.mail.complaints import Complaint, Complaints, Throttle
from daemon.mail.letter import RawAttachment, expand_tnef
from tests.unit.mail.test_attachments import TNEF

WHOLE_TNEF = TNEF + b"\x01\x00"  # with its object's checksum: nothing missing


def test_the_throttle_lets_one_a_minute_through_and_counts_the_rest() -> None:
    now = [1000.0]
    throttle = Throttle(60, clock=lambda: now[0])
    assert throttle.allow("emfile") == 0  # the first one is said at once
    for _ in range(59):
        now[0] += 1
        assert throttle.allow("emfile") is None
    assert throttle.allow("refused") == 0  # another kind has its own minute
    now[0] += 1
    assert throttle.allow("emfile") == 59  # a minute on: said, with the count held back
    assert throttle.allow("emfile") is None
    now[0] += 600
    assert throttle.allow("emfile") == 1


def test_a_letters_complaints_are_said_once_and_counted_past_the_cap() -> None:
    said = Complaints()
    for n in range(complaints.MAX_KEPT + 5):
        said.add(Complaint("tnefparse", "warning", f"Skipping property {n}"))
    said.add(Complaint("tnefparse", "warning", "Skipping property 0"))  # again: once
    assert len(said.said) == complaints.MAX_KEPT and said.more == 5


def test_library_records_go_to_the_letter_in_hand_and_nowhere_else() -> None:
    record = logging.LogRecord("tnefparse", logging.ERROR, __file__, 1,
                               "decode_mapi exception: %s", ("bad\nsurrogate",), None)
    assert not complaints.take(record)  # no letter in hand: the caller logs it
    letter = Complaints()
    with complaints.collecting(letter):
        assert complaints.take(record)
        complaints.note("tnefparse", "winmail.dat cannot be read")
    complaints.note("tnefparse", "after the letter")  # forgotten
    assert letter.as_fields() == [
        {"library": "tnefparse", "level": "error",
         "message": "decode_mapi exception: bad surrogate"},
        {"library": "tnefparse", "level": "warning", "message": "winmail.dat cannot be read"}]


def test_a_broken_winmail_dat_is_kept_and_noted() -> None:
    letter = Complaints()
    broken = [RawAttachment("winmail.dat", "application/ms-tnef", b"\x00" * 64),
              RawAttachment("winmail.dat", "application/ms-tnef", WHOLE_TNEF + b"\x01\x02")]
    with complaints.collecting(letter):
        assert expand_tnef(broken) == broken  # judged as they are
    [unreadable, stray] = [c.message for c in letter.said]
    assert unreadable.startswith("winmail.dat cannot be read: ValueError: Wrong TNEF")
    assert "do not add up to its 23 bytes" in stray
    with complaints.collecting(whole := Complaints()):
        expand_tnef([RawAttachment("winmail.dat", "application/ms-tnef", WHOLE_TNEF)])
    assert not whole
