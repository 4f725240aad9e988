"""The database schema: typed SQLAlchemy 2 models.

Every letter that reaches the spool gets one `Inbound` row (its accounting: what
became of it and why), written in the same transaction as whatever it did to a
ticket. Tickets hold their deadlines as data (`reaction_due`, UTC). Outgoing
letters are `Outgoing` rows, fully rendered at queue time so that their
Message-ID is stable across retries; a separate worker sends them.
Schema changes go through Alembic (`daemon/migrations`), never `create_all`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


CLOCK = "supportd_clock"  # db.CLOCK: the App's clock on a connection (db.use_clock)


def utcnow(context: Any) -> datetime:
    """A column's default "now": the clock of the App whose engine runs the INSERT or
    UPDATE (`db.use_clock`), so a daemon run at a chosen moment (`--now`) stamps its
    rows with that moment; the real time only for an engine no App made."""
    connection = getattr(context, "connection", None)
    clock = connection.info.get(CLOCK) if connection is not None else None
    return clock() if clock is not None else datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tid: Mapped[str | None] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="new")  # new|open|pending|closed
    sla_level: Mapped[str] = mapped_column(String(32))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    developers_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    requester: Mapped[str] = mapped_column(String(320), index=True)
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    # Where `requester` came from: from | reply-to | sender | envelope (issue 11).
    requester_source: Mapped[str] = mapped_column(String(16), default="from",
                                                  server_default="from")
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)
    org_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    identified_by: Mapped[str] = mapped_column(String(32), default="")
    assignee: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    clock_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reaction_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    awaiting_reaction: Mapped[bool] = mapped_column(Boolean, default=True)
    warn_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    breach_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    attention_reason: Mapped[str] = mapped_column(Text, default="")
    # A reply loop stopped every automatic letter to the ticket at this time (issue 21).
    automatic_stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    missing_info: Mapped[list[str]] = mapped_column(JSON, default=list)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    credentials_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into: Mapped[str | None] = mapped_column(String(32), nullable=True)
    coupon_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Issue 13: the topic (§4, or out of scope: §1.3, §1.4) as staff last set it, and
    # what the classifier said, kept beside it for the report.
    topic: Mapped[str] = mapped_column(String(32), default="", server_default="")
    topic_auto: Mapped[str] = mapped_column(String(32), default="", server_default="")
    topic_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    topic_set_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    topic_set_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The level the scope rule moved to consultation (§3.8), given back by staff's
    # `#topic` with a code in scope; "" when it did not move it.
    level_before_scope: Mapped[str] = mapped_column(String(32), default="", server_default="")
    pending_reason: Mapped[str] = mapped_column(String(32), default="", server_default="")
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    escalated_to: Mapped[str | None] = mapped_column(String(320), nullable=True)
    kb_offered: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    kb_solved: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", cascade="all, delete-orphan")
    deadlines: Mapped[list[Reaction]] = relationship(
        back_populates="ticket", order_by="Reaction.id", cascade="all, delete-orphan")

    # The open tickets per agent (§5.1, counted for every new ticket) without reading
    # the closed ones, which are nearly all of a desk's tickets after a few years. A
    # query gets this index when its WHERE says status <> 'closed' with the literal: a
    # plan made for a bound parameter cannot use it (pick_assignee in steps/store.py).
    __table_args__ = (
        Index("ix_tickets_open_assignee", "assignee",
              sqlite_where=text("status <> 'closed'"),
              postgresql_where=text("status <> 'closed'")),
    )


class Reaction(Base):
    """One reaction clock: started by a client letter, met by the next staff reply."""

    __tablename__ = "reactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    sla_level: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    met_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    ticket: Mapped[Ticket] = relationship(back_populates="deadlines")


class Message(Base):
    """A letter on a ticket, in either direction."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(24))  # client, staff, ack, notification, reply, ...
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    to_addrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    body_text: Mapped[str] = mapped_column(Text, default="")
    raw_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auth: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)  # AuthVerdict
    spam: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)  # SpamVerdict
    outgoing_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing.id"), nullable=True)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    outgoing: Mapped[Outgoing | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id", cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_messages_message_id", "message_id"),
        Index("ix_messages_content_hash", "content_hash"),
    )


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(Text, default="")
    declared_type: Mapped[str] = mapped_column(String(255), default="")
    detected_type: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    stored_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    verdict: Mapped[str] = mapped_column(String(16), default="accepted")
    reason: Mapped[str] = mapped_column(Text, default="")

    message: Mapped[Message] = relationship(back_populates="attachments")


class NotificationFold(Base):
    """A staff notification not sent because one about the same sender went to the
    same agent a moment ago (`[abuse] notification_fold`); the next one sent counts
    these and names their tickets."""

    __tablename__ = "notification_folds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    recipient_key: Mapped[str] = mapped_column(String(320))
    cause_key: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_notification_folds_key", "recipient_key", "cause_key",
                            "created_at"),)


class Inbound(Base):
    """The accounting of one received letter: exactly one row per spooled letter."""

    __tablename__ = "inbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spool_id: Mapped[str] = mapped_column(String(80), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # smtp | lmtp | imap | ingest
    source_key: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    envelope_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw_path: Mapped[str] = mapped_column(Text)
    message_id_header: Mapped[str | None] = mapped_column(String(998), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # ticket|threaded|duplicate|suppressed|...
    reason: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    spam: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)  # SpamVerdict

    # Known to the unit of work, so the ticket's row is written first (its number is
    # taken before the row is written: daemon/pipeline/steps/store.py).
    ticket: Mapped[Ticket | None] = relationship()

    __table_args__ = (Index("ix_inbound_message_id_header", "message_id_header"),)


class Outgoing(Base):
    """A letter waiting in (or gone from) the outbox."""

    __tablename__ = "outgoing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True,
                                                  index=True)
    kind: Mapped[str] = mapped_column(String(24))
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sent|failed|bounced
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The caps count by mailbox (case and +tag folded) and by the sender whose letter
    # caused this one (issue 21); both `mail.addresses.mailbox_key`.
    recipient_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
    cause_key: Mapped[str | None] = mapped_column(String(320), nullable=True)

    ticket: Mapped[Ticket | None] = relationship()

    __table_args__ = (Index("ix_outgoing_status_next", "status", "next_attempt_at"),
                      Index("ix_outgoing_recipient_created", "recipient", "created_at"),
                      Index("ix_outgoing_recipient_key_created", "recipient_key", "created_at"),
                      Index("ix_outgoing_cause_key_created", "cause_key", "created_at"))


class Blob(Base):
    """A raw letter or an attachment kept in the database (`[storage] blobs =
    "database"`, daemon/storage/blobs.py): named by its SHA-256, kept once however
    many rows name it (`db:SHA256`)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MailboxState(Base):
    """Where IMAP polling stands in one folder."""

    __tablename__ = "mailbox_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500), unique=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)  # IMAP: up to 2**32 - 1
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)


class Org(Base):
    """A partner, licensee, user or demo user from the registry (`supportd orgs import`)."""

    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16))  # partner | licensee | user | demo
    inn: Mapped[str | None] = mapped_column(String(12), unique=True, nullable=True)
    ogrn: Mapped[str | None] = mapped_column(String(15), nullable=True, index=True)
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    logins: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    licences: Mapped[list[Licence]] = relationship(
        back_populates="org", order_by="Licence.id", cascade="all, delete-orphan")
    addresses: Mapped[list[OrgAddress]] = relationship(
        back_populates="org", cascade="all, delete-orphan")


class OrgAddress(Base):
    """One registered address or domain of an org: the index identification looks up."""

    __tablename__ = "org_addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # email | domain | login
    value: Mapped[str] = mapped_column(String(320), index=True)

    org: Mapped[Org] = relationship(back_populates="addresses")


class Licence(Base):
    __tablename__ = "licences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    product: Mapped[str] = mapped_column(Text)
    edition: Mapped[str] = mapped_column(Text, default="")
    purchased: Mapped[date | None] = mapped_column(Date, nullable=True)
    plan: Mapped[str] = mapped_column(String(16), default="standard")  # standard | vip

    org: Mapped[Org] = relationship(back_populates="licences")


class Coupon(Base):
    """A special-request coupon (§3.6): 12 requests within a year of the licence."""

    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    valid_until: Mapped[date] = mapped_column(Date)
    requests_total: Mapped[int] = mapped_column(Integer, default=12)
    requests_used: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ScheduledRun(Base):
    """A scheduled letter run done (issue 12): the weekly or monthly report of a period,
    the morning digest of a day. Unique per (job, run_key): it goes out once."""

    __tablename__ = "scheduled_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(32))  # weekly | monthly | digest
    run_key: Mapped[str] = mapped_column(String(64))  # 2026-11-23, 2026-11, 2026-12-07
    done_at: Mapped[datetime] = mapped_column(UtcDateTime)
    letters: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (UniqueConstraint("job", "run_key"),)
