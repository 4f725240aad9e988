"""Who is copied in on a ticket: earned, capped (daemon/tickets/participants.py)."""

from __future__ import annotations

from daemon.tickets.participants import NOT_PROVEN, TOO_MANY, admit

OURS = {"techsupport@example.ru"}


def test_a_new_ticket_takes_its_letters_addresses_up_to_the_cap() -> None:
    a = admit([], ["Boss@Client.example", "techsupport@example.ru", "ivan@client.example",
                   *(f"u{i}@client.example" for i in range(20))],
              requester="ivan@client.example", ours=OURS, cap=3, earned=True)
    assert a.participants == ["boss@client.example", "u0@client.example", "u1@client.example"]
    assert a.added == a.participants
    assert len(a.refused) == 18 and set(a.refused.values()) == {TOO_MANY}


def test_an_unproven_letter_adds_no_one_and_says_why() -> None:
    a = admit(["colleague@client.example"], ["spy@evil.example", "colleague@client.example"],
              requester="ivan@client.example", ours=OURS, cap=10, earned=False)
    assert a.participants == ["colleague@client.example"] and a.added == []
    assert a.refused == {"spy@evil.example": NOT_PROVEN}


def test_nothing_new_changes_nothing() -> None:
    a = admit(["a@x.example"], ["A@x.example", "", "ivan@client.example"],
              requester="ivan@client.example", ours=OURS, cap=1, earned=True)
    assert (a.participants, a.added, a.refused) == (["a@x.example"], [], {})
