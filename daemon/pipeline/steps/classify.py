"""Step: the SLA level of a new ticket, and whether an emergency was asked for (§3).

A follow-up keeps its ticket's level. A new ticket's level comes from the
sender's organisation (`registry.level_for`); unidentified senders, and senders
named only by an INN or login rather than a registered address, get
`[sla].default_level` (consultation, §3.8). An emergency request (X-Priority,
Importance, configured words) gives an entitled partner or licensee the
operational level, which staff confirm or downgrade; so does a letter that describes
a total failure of our programs without those words (`tickets.outages`). A valid coupon (§3.6) from
a registered address makes the ticket `special` and spends one of its requests.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline.context import Letter
from daemon.tickets.completeness import urgency_requested
from daemon.tickets.coupons import find_codes, lookalike_codes, spend
from daemon.tickets.outages import outage_described
from daemon.tickets.registry import has_vip, level_for


def run(letter: Letter, session: Session, app: App) -> None:
    p = letter.parsed
    if p is not None and not letter.robot:
        headers = {k.lower(): str(v) for k, v in p.message.items()}
        letter.emergency_requested = urgency_requested(
            headers, p.subject, p.text, app.config.screen.urgent_words)
    if letter.ticket is not None:
        letter.sla_level = letter.ticket.sla_level
        return
    ident = letter.identification
    org = ident.org if ident else None
    entitled = bool(ident and ident.entitled)
    if entitled and letter.auth.forged:
        # §5.8 and issue 11: a commercial level only for a letter proven not forged.
        entitled, letter.demoted = False, True
        letter.notes.append(f"registered address, but the letter fails authentication "
                            f"(dmarc={letter.auth.dmarc}): fallback level")
        letter.flags.append(f"письмо с зарегистрированного адреса не прошло проверку "
                            f"подлинности (DMARC {letter.auth.dmarc}): уровень понижен")
    # Only an entitled licensee's level depends on VIP: the others skip loading licences.
    vip = bool(org and entitled and org.category == "licensee" and has_vip(org))
    if p is not None and not letter.robot and letter.staff is None and entitled and org \
            and org.category in ("partner", "licensee") and not letter.emergency_requested:
        # §3.1/§3.3: a total failure described, without «срочно»: proposed the same way.
        letter.outage = outage_described(p.subject, p.text)
    letter.sla_level = level_for(org.category if org else None, entitled, vip,
                                 letter.emergency_requested or bool(letter.outage),
                                 app.config.sla.default_level)
    if p is not None and not letter.robot and letter.staff is None:
        text = f"{p.subject}\n{p.text}"
        codes = find_codes(text)
        spent = spend(session, codes, org, entitled,
                      letter.spooled.received_at.astimezone(app.config.tz).date(),
                      lookalike_codes(text) if not codes else ())
        if spent.coupon is not None:
            letter.sla_level, letter.coupon_id = "special", spent.coupon.id
        letter.coupon_note = spent.problem
        if spent.problem:
            letter.notes.append(f"coupon not used: {spent.problem}")
