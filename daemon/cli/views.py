"""Tickets as plain dicts for the CLI's JSON (SPEC "Interface": `tickets show --json`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.storage.models import Org, Reaction, Ticket
from daemon.trust.verdict import AuthVerdict


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def reaction_state(r: Reaction, now: datetime) -> str:
    if r.met_at is not None:
        return "met" if r.met_at <= r.due_at else "missed"
    return "missed" if now > r.due_at else "running"


def _auth(stored: dict[str, Any] | None) -> dict[str, Any]:
    """SPEC: `auth` holds spf, dkim, dmarc and verdict; "none" where nothing was checked."""
    v = AuthVerdict.from_dict(stored)
    return {"spf": v.spf, "dkim": v.dkim, "dmarc": v.dmarc, "verdict": v.verdict,
            "policy": v.policy, "domain": v.domain, "checked_by": v.source or None}


def _spam(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """SPEC: `spam` holds backend, score, action and symbols; null where nothing judged."""
    if not stored:
        return None
    keys = ("backend", "score", "action", "symbols", "checked", "error", "quarantine",
            "arrived_at", "released_at", "released_by")
    return {k: stored.get(k) for k in keys if k in stored or k in keys[:5]}


def ticket_summary(t: Ticket) -> dict[str, Any]:
    return {"tid": t.tid, "subject": t.subject, "status": t.status, "sla_level": t.sla_level,
            "requester": t.requester, "assignee": t.assignee, "received_at": iso(t.received_at),
            "reaction_due": iso(t.reaction_due), "needs_attention": t.needs_attention}


def ticket_detail(session: Session, t: Ticket, now: datetime) -> dict[str, Any]:
    reactions = list(session.scalars(select(Reaction).where(Reaction.ticket_id == t.id)
                                     .order_by(Reaction.id)))
    # The clock the ticket is judged by: the earliest unanswered one (§2.3), else the last.
    unanswered = [r for r in reactions if r.met_at is None]
    current = min(unanswered, key=lambda r: (r.due_at, r.id)) if unanswered else \
        (reactions[-1] if reactions else None)
    return {
        **ticket_summary(t),
        "first_response_at": iso(t.first_response_at),
        "reaction_state": reaction_state(current, now) if current else None,
        "reactions": [{"sla_level": r.sla_level, "started_at": iso(r.started_at),
                       "due_at": iso(r.due_at), "met_at": iso(r.met_at),
                       "state": reaction_state(r, now)} for r in reactions],
        "requester_name": t.requester_name,
        "requester_source": t.requester_source,
        "auth": _auth(next((m.auth for m in t.messages if m.direction == "in"), None)),
        "spam": _spam(next((m.spam for m in t.messages if m.direction == "in"), None)),
        "participants": list(t.participants or []),
        "org": ({"name": org.name, "inn": org.inn, "ogrn": org.ogrn,
                 "category": org.category, "identified_by": t.identified_by}
                if (org := session.get(Org, t.org_id)) is not None else None)
        if t.org_id is not None else None,
        "rating": t.rating,
        "emergency": t.emergency,
        "attention_reason": t.attention_reason,
        "automatic_stopped_at": iso(t.automatic_stopped_at),
        "missing_info": list(t.missing_info or []),
        "closed_at": iso(t.closed_at),
        # Issue 13: the topic (§4 or out of scope), staff's correction beside the
        # classifier's; the §5.10 reason of a postponement; a letter to the head (§6).
        "topic": t.topic, "topic_auto": t.topic_auto, "topic_score": t.topic_score,
        "topic_set_by": t.topic_set_by, "topic_set_at": iso(t.topic_set_at),
        "pending_reason": t.pending_reason,
        "escalated": t.escalated_at is not None, "escalated_at": iso(t.escalated_at),
        "escalated_to": t.escalated_to,
        "kb_offered": list(t.kb_offered or []), "kb_solved": t.kb_solved,
        "messages": [{
            "direction": m.direction, "kind": m.kind, "from": m.from_addr,
            "to": list(m.to_addrs or []), "cc": list(m.cc_addrs or []), "at": iso(m.at),
            "subject": m.subject, "message_id": m.message_id, "raw_path": m.raw_path,
            "auth": _auth(m.auth) if m.direction == "in" else None,
            "spam": _spam(m.spam) if m.direction == "in" else None,
            "attachments": [{"filename": a.filename, "detected_type": a.detected_type,
                             "declared_type": a.declared_type, "size": a.size,
                             "sha256": a.sha256, "verdict": a.verdict, "reason": a.reason}
                            for a in m.attachments],
        } for m in t.messages],
    }
