"""Step: who wrote, where the answers go, and what the letter lacks (§5.2, §5.8, §5.11).

The sender is who the From header names, read as RFC 5322 and DMARC read it
(`mail.addresses.read_from`); a From that names several mailboxes or shows one
address and holds another identifies nobody: no registered organisation, the
ticket flagged for staff. The registry names the organisation: by a registered
address or domain (which entitles it to its commercial level, unless the letter
is proven forged: `classify`), else by an INN, OGRN or login in the letter (which
names it, but per §5.8 entitles nothing).

Answers go to the Reply-To when the client asked (a shared helpdesk box, a
colleague) and it is in the From's own organisation, or the letter is proven to
be from its From domain: a stranger's letter cannot steer our acknowledgement to
a third party. Else to the From address; when From gives none, to the Sender
header's, else to the envelope sender (§5.11: every reachable client gets the
registration letter). The ticket says which (`requester_source`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.letter import ParsedLetter
from daemon.pipeline.context import Letter
from daemon.tickets.completeness import missing_information, screenshot_wanted
from daemon.tickets.registry import identify
from daemon.trust.domains import org_domain

PROBLEMS_RU = {
    "several-addresses": "в поле From несколько адресов",
    "address-in-name": "в имени отправителя (From) указан другой адрес",
    "folded-quoted-name": "имя отправителя (From) разбито на строки и похоже на адрес",
}


def _same_organisation(a: str, b: str) -> bool:
    da, db = a.rpartition("@")[2], b.rpartition("@")[2]
    return da == db or (org_domain(da) or da) == (org_domain(db) or db)


def answer_address(letter: Letter, p: ParsedLetter, ours: frozenset[str]) -> tuple[str, str]:
    """(address, source) the desk answers: see the module."""
    reply_to = p.reply_to if p.reply_to and p.reply_to not in ours else ""
    if reply_to and (not p.from_addr or letter.auth.proven
                     or _same_organisation(reply_to, p.from_addr)):
        return reply_to, "reply-to"
    if reply_to:
        letter.notes.append(f"reply-to {reply_to} not answered: outside the From's "
                            "organisation, letter not authenticated")
        letter.reply_to_ignored = reply_to
    if p.from_addr:
        return p.from_addr, "from"
    if p.sender_addr:
        return p.sender_addr, "sender"
    envelope = (letter.spooled.envelope.mail_from or "").lower() or p.return_path
    return envelope, "envelope"


def run(letter: Letter, session: Session, app: App) -> None:
    if letter.ticket is not None:
        letter.requester = letter.ticket.requester
        letter.requester_name = letter.ticket.requester_name
        return
    p = letter.parsed
    if p is None:
        letter.requester = (letter.spooled.envelope.mail_from or "").lower()
        letter.requester_source = "envelope"
        return
    letter.requester, letter.requester_source = answer_address(
        letter, p, app.config.our_addresses())
    letter.requester_name = p.from_name
    if p.from_repaired:
        letter.notes.append(f"from repaired ({p.from_repaired})")
    if p.from_problem:
        letter.notes.append(f"from identifies nobody: {p.from_problem}")
        letter.flags.append(f"отправитель не установлен: {PROBLEMS_RU[p.from_problem]}")
    if letter.staff is None and not letter.robot:
        letter.missing = missing_information(p.text, p.subject)
        if screenshot_wanted(p.text, p.subject,
                             ((a.filename, a.content_type) for a in p.attachments)):
            letter.missing.append("screenshot")  # §5.2, in §5.7's formats
        if letter.sender:
            letter.identification = identify(session, letter.sender, f"{p.subject}\n{p.text}")
