"""Who receives a ticket's correspondence besides its requester: earned, and capped.

A ticket's participants get the staff's answers in copy (§5.5: to the requester's
side only). A new ticket takes the addresses its first letter was written to (the
client's own choice of colleagues); a follow-up adds new addresses only when it is
proven to come from the ticket's own side (issue 21: a stranger forging the
requester's From must not copy themselves in), and staff add or remove any with
`#cc add|remove ADDRESS`. Never more than `[tickets] max_participants`. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

NOT_PROVEN = "письмо не подтверждено как письмо заявителя"
TOO_MANY = "достигнут предел участников обращения"


@dataclass(frozen=True)
class Admission:
    participants: list[str]  # the ticket's participants after the letter
    added: list[str]
    refused: dict[str, str]  # address -> why it was not added (Russian, for staff)


def admit(current: Collection[str], candidates: Iterable[str], *, requester: str,
          ours: Collection[str], cap: int, earned: bool) -> Admission:
    """The participants after a letter naming `candidates` (in header order)."""
    participants = list(current)
    added: list[str] = []
    refused: dict[str, str] = {}
    for address in candidates:
        address = address.lower()
        if not address or address in ours or address == requester.lower():
            continue
        if address in participants or address in refused:
            continue
        if not earned:
            refused[address] = NOT_PROVEN
        elif len(participants) >= cap:
            refused[address] = TOO_MANY
        else:
            participants.append(address)
            added.append(address)
    return Admission(participants, added, refused)
