"""The configuration: every key declared once, with its type, default and meaning.

Config is TOML (SPEC "Interface"). Each section is a frozen dataclass whose fields
are the keys; the field's metadata carries the one-line comment. `loader` walks the
TOML against these declarations and raises `ConfigError` naming the key (as
``section.key``) for an unknown key, a wrong type or a bad value, so
`supportd check-config` can tell an administrator exactly which line to fix.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, NewType
from zoneinfo import ZoneInfo

# What the daemon reads at run time ships inside the package (package data), so an
# install from the wheel, anywhere, has it: the letter templates, the migrations.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_TEMPLATES = PACKAGE_ROOT / "templates" / "emails"
SHIPPED_SCOPE_RULES = PACKAGE_ROOT / "config" / "scope.toml"  # the topics of issue 13


class ConfigError(ValueError):
    """A configuration problem, always naming the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem

    def each(self) -> list[ConfigError]:
        """The problems this error stands for: itself, or all of a `ConfigErrors`."""
        return [self]


class ConfigErrors(ConfigError):
    """Every problem of a config at once (`check-config` lists them all, each by its key);
    `key` and `problem` are the first one's."""

    def __init__(self, errors: list[ConfigError]) -> None:
        ValueError.__init__(self, "\n".join(str(e) for e in errors))
        self.errors = errors
        self.key, self.problem = errors[0].key, errors[0].problem

    def each(self) -> list[ConfigError]:
        return list(self.errors)


class Problems:
    """Collects problems instead of stopping at the first: `add` one, or run a check
    `with problems.check():` and keep what it raised; `raise_any` at the end."""

    def __init__(self) -> None:
        self.found: list[ConfigError] = []

    def add(self, key: str, problem: str) -> None:
        self.found.append(ConfigError(key, problem))

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except ConfigError as exc:
            self.found.extend(exc.each())

    def raise_any(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise ConfigErrors(self.found)


def doc(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    """A field with its one-line comment; the comment is what `check-config --explain` shows."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")

# A key holding an interval: "45s", "90m", "6h", "2d", or a whole number of seconds
# (`poll_interval = 300`), which the loader writes as "300s". Declared with this type,
# a key is checked by the loader, which names it when the value is bad.
Duration = NewType("Duration", str)


def parse_duration(text: str) -> timedelta:
    """'45s', '90m', '6h', '24d' as a timedelta (days as calendar days)."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration like '90s', '30m', '6h' or '2d'")
    n, unit = int(m.group(1)), m.group(2)
    return {"s": timedelta(seconds=n), "m": timedelta(minutes=n),
            "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]


@dataclass(frozen=True)
class ServiceConfig:
    address: str = doc("the support address clients write to", "techsupport@example.ru")
    timezone: str = doc("the desk's time zone; letters show times in it", "Europe/Moscow")
    name: str = doc("how letters sign off", "Служба технической поддержки")
    company: str = doc("the company's name in letters", "ООО «Диджитал Стэйт»")
    tid_prefix: str = doc("letters before the ticket number in a TID", "SD")
    extra_addresses: tuple[str, ...] = doc("other addresses of ours (never answered)", ())
    templates: str = doc("folder of the Jinja2 letter templates; empty: the ones shipped "
                         "in the package", "")
    head_address: str = doc("a second address, for letters to the head of support (§6); "
                            "empty: none", "")

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class StorageConfig:
    url: str = doc("SQLAlchemy database URL", "sqlite:///var/supportd.db")
    spool: str = doc("folder for raw letters and attachments", "var/spool")
    blobs: str = doc('where raw letters and attachments are kept for good: "spool" (the '
                     'spool folder\'s store/ and attachments/) or "database" (the blobs '
                     'table, committed with the letter\'s rows: every host sees them)',
                     "spool")
    keep_shunted: Duration = doc("letters a bug stopped (spool/shunt/) are deleted this long "
                                 "after; '0s': kept for good", "180d")
    keep_tmp: Duration = doc("half-written files (spool/tmp/) a writer left behind are deleted "
                             "this long after", "2d")


@dataclass(frozen=True)
class SmtpConfig:
    enabled: bool = doc("run the inbound SMTP listener", True)
    host: str = doc("address to listen on", "127.0.0.1")
    port: int = doc("port to listen on", 8025)
    lmtp: bool = doc("speak LMTP instead of SMTP (for an MTA's lmtp transport)", False)
    max_message_size: int = doc("largest letter accepted, bytes (552 above it)", 26214400)
    max_recipients: int = doc("RCPT TO limit per letter", 100)
    timeout: int = doc("seconds of client silence before the connection is closed "
                       "(in DATA too: a long transfer that keeps sending is never cut)", 300)
    max_connections: int = doc("connections at once, from everyone (421 past it); needs "
                               "2 open files each, under LimitNOFILE", 256)
    max_connections_per_client: int = doc("connections at once from one IP address "
                                          "(421 past it)", 32)


@dataclass(frozen=True)
class ImapConfig:
    enabled: bool = doc("poll an IMAP mailbox for letters", False)
    host: str = doc("IMAP server", "127.0.0.1")
    port: int = doc("IMAP port", 993)
    ssl: bool = doc("implicit TLS (IMAPS)", True)
    starttls: bool = doc("STARTTLS on a plain connection", False)
    username: str = doc("login", "")
    password_file: str = doc("file holding the password (first line)", "")
    folder: str = doc("folder to read", "INBOX")
    processed_folder: str = doc("move processed letters here; empty: flag them \\Seen", "")
    idle: bool = doc("use IMAP IDLE when the server offers it", True)
    poll_interval: Duration = doc("how often to poll without IDLE", "60s")
    auth: str = doc("'password', 'xoauth2' or 'oauthbearer' (OAuth2: Microsoft 365, Gmail, "
                    "Yandex 360)", "password")
    oauth_token_url: str = doc("OAuth2 token endpoint the refresh token is traded at", "")
    oauth_client_id: str = doc("OAuth2 client (application) id", "")
    oauth_client_secret_file: str = doc(
        "file holding the OAuth2 client secret; empty for a public client", "")
    oauth_refresh_token_file: str = doc(
        "file holding the refresh token (first line); a rotated one is written back", "")
    oauth_scope: str = doc("scopes asked for on renewal, space-separated; empty: as granted",
                           "")


@dataclass(frozen=True)
class OutboundConfig:
    transport: str = doc("'maildir' or 'smtp'", "maildir")
    maildir: str = doc("Maildir for outgoing letters when transport is maildir", "var/mail/outbox")
    host: str = doc("relay host when transport is smtp", "127.0.0.1")
    port: int = doc("relay port", 25)
    starttls: bool = doc("STARTTLS to the relay", False)
    ssl: bool = doc("implicit TLS to the relay", False)
    username: str = doc("relay login; empty for none", "")
    password_file: str = doc("file holding the relay password", "")
    timeout: int = doc("seconds to wait for the relay", 30)
    max_attempts: int = doc("attempts before a letter is marked failed", 20)
    retry_base: Duration = doc("first retry delay; doubles each attempt", "30s")
    retry_max: Duration = doc("longest delay between attempts", "1h")
    auto_cap_per_hour: int = doc("most automatic letters to one address per hour", 10)
    dkim_selector: str = doc("DKIM selector of our signing key; empty: letters go unsigned", "")
    dkim_key_file: str = doc("PEM file of the DKIM private key (readable by the service)", "")
    dkim_domain: str = doc("d= of our signatures; empty: the support address's domain", "")
    auth: str = doc("relay login: 'password' (username and password_file, if any), "
                    "'xoauth2' or 'oauthbearer'", "password")
    oauth_token_url: str = doc("OAuth2 token endpoint the refresh token is traded at", "")
    oauth_client_id: str = doc("OAuth2 client (application) id", "")
    oauth_client_secret_file: str = doc(
        "file holding the OAuth2 client secret; empty for a public client", "")
    oauth_refresh_token_file: str = doc(
        "file holding the refresh token (first line); a rotated one is written back", "")
    oauth_scope: str = doc("scopes asked for on renewal, space-separated; empty: as granted",
                           "")


@dataclass(frozen=True)
class StaffMember:
    name: str = doc("full name", "")
    email: str = doc("address staff write from", "")
    phone: str = doc("phone given to special-request clients", "")
    role: str = doc("agent | head | developer", "agent")


@dataclass(frozen=True)
class SlaLevelConfig:
    reaction: str = doc("reaction time: '90m', '6h', '24d'; empty: SPEC's table", "")
    clock: str = doc("'working', 'calendar' or 'working_days'; empty: SPEC's table", "")


@dataclass(frozen=True)
class SlaConfig:
    default_level: str = doc("level for senders the registry does not know", "consultation")
    levels: Mapping[str, SlaLevelConfig] = doc("per-level overrides of SPEC's table", factory=dict)


@dataclass(frozen=True)
class CalendarConfig:
    day_start: str = doc("start of a working day, HH:MM", "10:00")
    day_end: str = doc("end of a working day, HH:MM", "18:00")
    shorten_preholiday: bool = doc("a day before a public holiday is one hour shorter", True)
    overrides: Mapping[str, str] = doc(
        "per date: 'off', 'working' or 'HH:MM-HH:MM'", factory=dict)


@dataclass(frozen=True)
class Notice:
    """§7: a change of the desk's hours told in acknowledgements ([[notice]])."""

    from_: str = doc("first moment it is told: 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM' (desk time)",
                     "")
    to: str = doc("last moment it is told: a date means the end of that day", "")
    text: str = doc("the words added to acknowledgements, in Russian", "")


@dataclass(frozen=True)
class ScreenConfig:
    duplicate_window: Duration = doc("same sender+subject+body within this is a resend", "24h")
    urgent_words: tuple[str, ...] = doc(
        "words in a subject that mark an emergency", ("срочно", "авария", "urgent"))


@dataclass(frozen=True)
class SecurityConfig:
    trusted_authserv_ids: tuple[str, ...] = doc(
        "older name of [auth] trusted_authserv_id (several allowed); both are believed", ())


@dataclass(frozen=True)
class AuthConfig:
    trusted_authserv_id: str = doc(
        "authserv-id of our MTA: only its Authentication-Results are believed; empty: none", "")
    internal_hosts: tuple[str, ...] = doc(
        "our own relays (names or IPs): a Received header from them is not from outside", ())
    verify: bool = doc(
        "where our MTA wrote no verdict, check DKIM, SPF and DMARC ourselves (asks DNS)", True)
    dns_servers: tuple[str, ...] = doc(
        "DNS servers for those checks, 'IP' or 'IP:port'; empty: /etc/resolv.conf", ())
    dns_timeout: Duration = doc("the longest wait for one DNS answer ('2s'); then: no verdict",
                                "2s")
    accept_unauthenticated_staff: bool = doc(
        "UNSAFE: act on staff letters nobody authenticated: anyone can write as staff", False)

    @property
    def trusted_ids(self) -> tuple[str, ...]:
        return (self.trusted_authserv_id,) if self.trusted_authserv_id else ()


@dataclass(frozen=True)
class TicketsConfig:
    max_participants: int = doc(
        "most addresses besides the requester that receive a ticket's correspondence", 10)


@dataclass(frozen=True)
class AbuseConfig:
    new_tickets_per_hour: int = doc(
        "an unknown sender's new tickets in an hour; past it, letters join the newest", 20)
    notification_fold: Duration = doc(
        "one staff notification per agent and sender in this time; the rest are counted "
        "in the next", "10m")


@dataclass(frozen=True)
class SpamConfig:
    backend: str = doc("who judges spam before any answer: 'rspamd', 'spamassassin' (spamd), "
                       "'headers' (our MTA's X-Spam-* headers) or 'off'", "off")
    rspamd_url: str = doc("rspamd's normal worker (scans, /checkv2)", "http://127.0.0.1:11333")
    rspamd_controller_url: str = doc(
        "rspamd's controller (learns from releases, /learnham and /learnspam); empty: no "
        "learning", "")
    rspamd_password_file: str = doc("file holding the controller's password; empty: none", "")
    spamd: str = doc("spamd's address: 'tcp:HOST:PORT' or 'unix:PATH'", "tcp:127.0.0.1:783")
    spamd_user: str = doc("the user spamd scans as (its per-user rules and Bayes)", "")
    hold_score: float = doc("at or above this score a letter is held in the quarantine: "
                            "no ticket, no answer", 8.0)
    reject_score: float = doc("at or above this score even a proven registered client's "
                              "letter is held, and it is deleted after keep_days", 15.0)
    keep_days: int = doc("days a letter at or above reject_score stays in the quarantine", 30)
    max_wait: Duration = doc("how long a letter waits for a scanner that is away before it "
                             "goes through flagged 'not checked'", "30m")
    timeout: Duration = doc("the longest wait for one scanner's answer", "20s")


@dataclass(frozen=True)
class AntivirusConfig:
    clamd: str = doc("clamd's address, 'unix:/run/clamav/clamd.ctl' or 'tcp:127.0.0.1:3310'; "
                     "empty: attachments are not scanned", "")
    timeout: Duration = doc("the longest wait for clamd's answer on one attachment", "30s")


@dataclass(frozen=True)
class SchedulerConfig:
    sweep_interval: Duration = doc("how often deadlines are checked", "60s")
    retention_interval: Duration = doc("how often old spool files are deleted "
                                       "([storage] keep_*); '0s': never", "1h")
    warn_at: float = doc("warn the assignee when this share of the reaction time is left", 0.25)


@dataclass(frozen=True)
class ScopeConfig:
    enabled: bool = doc("give each new ticket a topic of §4 or 'out of scope' (§1.3, §1.4)",
                        True)
    rules: str = doc("TOML file of the topics ([[topic]]); empty: the package's own",
                     "")
    min_score: int = doc("the least score a topic needs (a strong word 3, a word 1)", 3)
    margin: int = doc("an out-of-scope topic wins only by this much over the best topic in "
                      "scope", 2)
    out_of_scope_score: int = doc("the least score that puts a letter out of scope (two "
                                  "strong words, or one in the subject)", 6)


@dataclass(frozen=True)
class KnowledgeConfig:
    folder: str = doc("folder of knowledge-base files (*.toml, [[entry]] id, title, keywords, "
                      "link, text); empty: no knowledge base", "")
    min_score: int = doc("the least number of an entry's keywords a letter must hold", 2)
    max_entries: int = doc("most entries the acknowledgement lists (§1.2, §5.9)", 3)


@dataclass(frozen=True)
class AnswerConfig:
    show_queue_position: bool = doc(
        "the acknowledgement says the ticket's place in the queue of its level (§2.1)", False)


@dataclass(frozen=True)
class ReportsConfig:
    to: tuple[str, ...] = doc(
        "who gets the SLA and quality report; empty: the staff whose role is head", ())
    weekly: str = doc("the weekly report (the past Monday to Sunday): 'DAY HH:MM'; empty: none",
                      "mon 10:00")
    monthly: str = doc("the monthly report (the past month): 'DAY-OF-MONTH HH:MM'; empty: none",
                       "1 10:00")
    digest: str = doc("the agents' morning digest, each working day at 'HH:MM'; empty: none",
                      "10:00")
    charts: bool = doc("PNG charts in the report's HTML (needs matplotlib)", True)
    catch_up: Duration = doc(
        "a report or digest not sent by this long after its time (the daemon was down) "
        "is skipped", "12h")


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = doc("serve Prometheus metrics over HTTP (supportd run)", False)
    host: str = doc("address the metrics endpoint listens on", "127.0.0.1")
    port: int = doc("port of the metrics endpoint", 9108)


@dataclass(frozen=True)
class HealthConfig:
    spool_max_age: Duration = doc(
        "`supportd health` fails when a received letter waits in the spool this long", "10m")
    outbox_max_age: Duration = doc(
        "`supportd health` fails when a letter due to be sent has waited this long", "30m")


@dataclass(frozen=True)
class PipelineConfig:
    workers: int = doc("pipeline processes beside the listener; more than 1 needs PostgreSQL", 1)


@dataclass(frozen=True)
class LoggingConfig:
    level: str = doc("debug | info | warning | error", "info")
    format: str = doc("'auto' (console on a terminal, JSON otherwise), 'json' or 'console'",
                      "auto")


@dataclass(frozen=True)
class Config:
    service: ServiceConfig = doc("the desk", factory=ServiceConfig)
    storage: StorageConfig = doc("database and spool", factory=StorageConfig)
    smtp: SmtpConfig = doc("inbound listener", factory=SmtpConfig)
    imap: ImapConfig = doc("IMAP polling", factory=ImapConfig)
    outbound: OutboundConfig = doc("outgoing mail", factory=OutboundConfig)
    staff: tuple[StaffMember, ...] = doc("support staff", ())
    sla: SlaConfig = doc("service levels", factory=SlaConfig)
    calendar: CalendarConfig = doc("working calendar", factory=CalendarConfig)
    notice: tuple[Notice, ...] = doc(
        "changed hours, holiday schedules, planned breaks told in acknowledgements", ())
    screen: ScreenConfig = doc("duplicates and junk", factory=ScreenConfig)
    security: SecurityConfig = doc("trust", factory=SecurityConfig)
    auth: AuthConfig = doc("who to believe a letter is from", factory=AuthConfig)
    tickets: TicketsConfig = doc("tickets", factory=TicketsConfig)
    abuse: AbuseConfig = doc("floods", factory=AbuseConfig)
    spam: SpamConfig = doc("spam checks before any answer (§5.11)", factory=SpamConfig)
    antivirus: AntivirusConfig = doc("malware checks of attachments", factory=AntivirusConfig)
    scheduler: SchedulerConfig = doc("deadline sweeps", factory=SchedulerConfig)
    pipeline: PipelineConfig = doc("letter processing", factory=PipelineConfig)
    scope: ScopeConfig = doc("topics and what is out of scope (§1.3, §1.4, §4)",
                             factory=ScopeConfig)
    knowledge: KnowledgeConfig = doc("documentation answers (§1.2, §5.9)",
                                     factory=KnowledgeConfig)
    answer: AnswerConfig = doc("what the acknowledgement says", factory=AnswerConfig)
    reports: ReportsConfig = doc("reports and digests by e-mail", factory=ReportsConfig)
    metrics: MetricsConfig = doc("the Prometheus endpoint", factory=MetricsConfig)
    health: HealthConfig = doc("what `supportd health` calls stuck", factory=HealthConfig)
    logging: LoggingConfig = doc("log output", factory=LoggingConfig)
    source: str = doc("where this config came from", "<defaults>")

    # Derived once per Config (a reload makes a new one); asked for on every letter.
    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.service.timezone)

    @property
    def spool_dir(self) -> Path:
        return Path(self.storage.spool)

    @property
    def templates_dir(self) -> Path:
        if self.service.templates:
            return Path(self.service.templates)
        return SHIPPED_TEMPLATES

    @cached_property
    def _staff_index(self) -> dict[str, StaffMember]:
        index: dict[str, StaffMember] = {}
        for member in self.staff:
            index.setdefault(member.email.lower(), member)  # the first listed wins
        return index

    def staff_by_email(self, address: str) -> StaffMember | None:
        return self._staff_index.get(address.lower())

    @property
    def scope_rules_path(self) -> Path:
        if self.scope.rules:
            return Path(self.scope.rules)
        return SHIPPED_SCOPE_RULES

    @cached_property
    def _our_addresses(self) -> frozenset[str]:
        head = (self.service.head_address,) if self.service.head_address else ()
        return frozenset(a.lower() for a in (self.service.address, *self.service.extra_addresses,
                                             *head))

    def our_addresses(self) -> frozenset[str]:
        return self._our_addresses


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(key: str, text: str) -> time:
    m = _HHMM.match(text)
    if not m:
        raise ConfigError(key, f"{text!r} is not a time like '10:00'")
    return time(int(m.group(1)), int(m.group(2)))
