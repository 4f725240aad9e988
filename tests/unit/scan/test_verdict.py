"""What a spam verdict means for a letter (`daemon.scan.verdict`), and how the
scanners' answers read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.scan.verdict import (
    HOLD,
    PASS,
    REJECT,
    SpamVerdict,
    decide,
    from_rspamd,
    from_spamd,
    main_symbols,
    not_checked,
)

HOLD_AT, REJECT_AT = 8.0, 15.0


def rspamd(score: float, action: str = "no action") -> SpamVerdict:
    return SpamVerdict("rspamd", score, action, (), is_spam=action == "reject")


def test_below_hold_passes_at_hold_is_held_at_reject_rejected() -> None:
    assert decide(rspamd(7.99), HOLD_AT, REJECT_AT) == PASS
    assert decide(rspamd(8.0), HOLD_AT, REJECT_AT) == HOLD
    assert decide(rspamd(14.9), HOLD_AT, REJECT_AT) == HOLD
    assert decide(rspamd(15.0), HOLD_AT, REJECT_AT) == REJECT


def test_the_backends_own_reject_holds_below_the_score() -> None:
    assert decide(rspamd(3.0, "reject"), HOLD_AT, REJECT_AT) == HOLD


def test_a_flag_without_a_score_holds() -> None:
    flagged = SpamVerdict("headers", None, "spam", is_spam=True)
    assert decide(flagged, HOLD_AT, REJECT_AT) == HOLD
    assert decide(SpamVerdict("headers", None, "ham"), HOLD_AT, REJECT_AT) == PASS


def test_no_verdict_or_not_checked_passes() -> None:
    assert decide(None, HOLD_AT, REJECT_AT) == PASS
    assert decide(not_checked("rspamd", "connection refused"), HOLD_AT, REJECT_AT) == PASS


def test_a_proven_client_is_held_only_at_reject() -> None:
    for v in (rspamd(9.0), rspamd(14.0, "reject"), SpamVerdict("headers", None, is_spam=True)):
        assert decide(v, HOLD_AT, REJECT_AT, proven_client=True) == PASS
    assert decide(rspamd(15.0), HOLD_AT, REJECT_AT, proven_client=True) == REJECT


@given(st.floats(-50, 100, allow_nan=False), st.floats(0.1, 50), st.floats(0, 50),
       st.booleans(), st.booleans())
def test_the_decision_only_grows_with_the_score(score: float, hold: float, gap: float,
                                                spam: bool, proven: bool) -> None:
    order = {PASS: 0, HOLD: 1, REJECT: 2}
    reject = hold + gap
    low = decide(SpamVerdict("rspamd", score, is_spam=spam), hold, reject, proven_client=proven)
    high = decide(SpamVerdict("rspamd", score + 1, is_spam=spam), hold, reject,
                  proven_client=proven)
    assert order[low] <= order[high]
    # proof of the sender never makes it worse
    assert order[decide(SpamVerdict("rspamd", score, is_spam=spam), hold, reject,
                        proven_client=True)] <= order[decide(
                            SpamVerdict("rspamd", score, is_spam=spam), hold, reject)]


def test_rspamds_answer() -> None:
    v = from_rspamd({"score": 15.0, "required_score": 15.0, "action": "reject",
                     "symbols": {"GTUBE": {"name": "GTUBE", "score": 0.0},
                                 "R_DKIM_NA": {"score": 0.0},
                                 "RDNS_NONE": {"name": "RDNS_NONE", "score": 1.0}}})
    assert v.score == 15.0 and v.action == "reject" and v.is_spam
    assert v.symbols[0] == "RDNS_NONE(1)" and "GTUBE" in v.symbols


def test_spamds_answer() -> None:
    v = from_spamd("True ; 1000.0 / 5.0", "GTUBE,NO_RECEIVED,NO_RELAYS\r\n")
    assert (v.score, v.is_spam, v.action) == (1000.0, True, "spam")
    assert v.symbols == ("GTUBE", "NO_RECEIVED", "NO_RELAYS")
    assert not from_spamd("False ; 1.2 / 5.0", "").is_spam


def test_main_symbols_heaviest_first_and_bounded() -> None:
    scored = {f"S{i}": float(i) for i in range(20)} | {"NEG": -30.0}
    top = main_symbols(scored)
    assert top[0] == "NEG(-30)" and top[1] == "S19(19)" and len(top) == 8


def test_the_verdict_survives_its_dict() -> None:
    v = rspamd(9.5, "add header").with_extra(quarantine="0123456789")
    assert SpamVerdict.from_dict(v.as_dict()) == v
