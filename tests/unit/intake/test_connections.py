"""The listener's caps: per client address and in all."""

from __future__ import annotations

from daemon.intake.connections import TOO_MANY, TOO_MANY_FROM_CLIENT, Caps


def test_caps_per_client_and_in_all() -> None:
    caps = Caps(total=4, per_client=2)
    assert caps.admit("10.0.0.1") is None and caps.admit("10.0.0.1") is None
    assert caps.admit("10.0.0.1") == TOO_MANY_FROM_CLIENT  # not counted
    assert caps.admit("10.0.0.2") is None and caps.admit("10.0.0.3") is None
    assert caps.admit("10.0.0.4") == TOO_MANY
    assert caps.open == 4 and caps.by_client == {"10.0.0.1": 2, "10.0.0.2": 1,
                                                 "10.0.0.3": 1}
    caps.release("10.0.0.1")
    assert caps.admit("10.0.0.4") is None
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        caps.release(client)
    assert caps.open == 0 and caps.by_client == {}
    assert TOO_MANY_FROM_CLIENT.startswith("421 4.7.0 ") and TOO_MANY.startswith("421 ")
