"""supportd behind a real Postfix: LMTP, SMTP relay, a pipe into `supportd ingest`,
and our outgoing letters leaving through that Postfix.

Each test starts a private, throw-away Postfix on loopback from Debian's package
(bench/harness/postfix.py: its own main.cf, master.cf, queue and log in a temp
folder, smtpd on a free port) and the real daemon (`supportd run` as a
subprocess, the `Daemon` helper of test_daemon_smtp.py), or, for the pipe,
Postfix's pipe(8) running `supportd ingest` itself. The letter is sent with
smtplib to Postfix's port, as a client's provider would; what is checked is
what a person would see: tickets, acknowledgements, Postfix's queue and log,
and the letters that reach a client's mailbox (an SMTP sink behind Postfix).

The Postfix settings here are the ones docs/admin.md ("Receiving mail",
"Sending mail through Postfix") tells an admin to write.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import pwd
import shlex
import shutil
import signal
import site
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from bench.harness.desk_config import free_port, write_config
from bench.harness.paths import PROJECT
from bench.harness.postfix import Postfix, Sink, skip_reason
from tests.conftest import simple_letter
from tests.integration.test_daemon_smtp import Daemon, crlf

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")]

DESK = "techsupport@example.ru"
CLIENT = "ivan@client.example"
STAFF = ("agent1", "agent2", "head")  # the [[staff]] of tests/conftest.py, all @example.ru


# ---------------------------------------------------------------- set-up


@pytest.fixture
def sink() -> Iterator[Sink]:
    """The clients' and staff's mail servers: whatever Postfix sends out lands here."""
    with Sink() as s:
        yield s


def desk_config(root: Path, *, lmtp: bool = False, max_size: int = 1048576,
                outbound: str | None = None, db_url: str | None = None) -> tuple[Path, int]:
    port = free_port()
    cfg = write_config(root, db_url=db_url, smtp_port=port, outbound=outbound)
    text = cfg.read_text(encoding="utf-8")
    assert "\nmax_message_size = 1048576\n" in text  # the [smtp] line write_config writes
    smtp = f"\nmax_message_size = {max_size}\nlmtp = {'true' if lmtp else 'false'}\n"
    text = text.replace("\nmax_message_size = 1048576\n", smtp, 1)
    cfg.write_text(text, encoding="utf-8")
    return cfg, port


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Daemon] = []

    def start(**kw: object) -> Daemon:
        cfg, port = desk_config(tmp_path, **kw)  # type: ignore[arg-type]
        d = Daemon(tmp_path, port, cfg)
        p = d.cli("db", "upgrade")
        assert p.returncode == 0, p.stderr
        d.start()
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc is not None:
            d.stop(signal.SIGKILL)


def send(mta: Postfix, raw: bytes, sender: str = CLIENT, rcpt: str = DESK) -> str:
    """Hand a letter to Postfix's smtpd, as the client's provider would; Postfix's queue id."""
    with smtplib.SMTP(mta.host, mta.port, timeout=30) as s:
        s.ehlo("mail.client.example")
        code, _ = s.mail(sender)
        assert code == 250
        code, resp = s.rcpt(rcpt)
        assert code == 250, resp
        code, resp = s.data(crlf(raw))
    assert code == 250, resp
    return resp.decode().rsplit(" ", 1)[-1]  # "2.0.0 Ok: queued as 4Xyz..."


def log_of(mta: Postfix, queue_id: str) -> str:
    return "\n".join(ln for ln in mta.log().splitlines() if f" {queue_id}: " in ln)


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def acks_to(d: Daemon, address: str) -> list[EmailMessage]:
    return [m for m in d.outbox() if address in str(m["To"])]


# ---------------------------------------------------------------- (a), (b) LMTP and SMTP relay


@pytest.mark.parametrize("method", ["lmtp", "smtp"])
def test_postfix_hands_a_letter_to_the_daemon_and_it_becomes_a_ticket(
        method: str, start_daemon, sink: Sink) -> None:  # type: ignore[no-untyped-def]
    d = start_daemon(lmtp=(method == "lmtp"))
    nexthop = {"lmtp": f"lmtp:inet:127.0.0.1:{d.port}",   # docs/admin.md (a)
               "smtp": f"smtp:[127.0.0.1]:{d.port}"}[method]  # docs/admin.md (b)
    with Postfix(routes={DESK: nexthop}, sink_port=sink.port) as mta:
        qid = send(mta, simple_letter(f"Через Postfix ({method})",
                                      message_id=f"<{method}-1@client.example>"))
        mta.wait_for(lambda: "status=sent" in log_of(mta, qid), why="for delivery")
        mta.wait_empty()
        line = log_of(mta, qid)
        assert f"to=<{DESK}>" in line and f"relay=127.0.0.1[127.0.0.1]:{d.port}" in line
        assert "queued as" in line  # supportd's own 250 after its fsync

        acks = d.wait_for(lambda: acks_to(d, CLIENT))
        tickets = d.tickets()
        assert len(tickets) == 1
        tid = tickets[0]["tid"]
        assert f"[{tid}]" in str(acks[0]["Subject"])
        assert acks[0]["In-Reply-To"] == f"<{method}-1@client.example>"
        assert tickets[0]["requester"] == CLIENT
        assert not sink.received  # nothing bounced, nothing went astray


def test_while_the_daemon_is_stopped_letters_wait_in_postfix_and_arrive_once(
        start_daemon, sink: Sink) -> None:  # type: ignore[no-untyped-def]
    d = start_daemon(lmtp=True)
    with Postfix(routes={DESK: f"lmtp:inet:127.0.0.1:{d.port}"}, sink_port=sink.port) as mta:
        d.stop()
        qid = send(mta, simple_letter("Пока демон остановлен", message_id="<down@client.example>"))
        mta.wait_for(lambda: "status=deferred" in log_of(mta, qid), why="for the deferral")
        assert [m["queue_name"] for m in mta.queue()] == ["deferred"]

        d.start()
        mta.flush()  # `postqueue -f`, as docs/admin.md says
        mta.wait_empty()
        d.wait_for(lambda: acks_to(d, CLIENT))
        assert [t["subject"] for t in d.tickets()] == ["Пока демон остановлен"]
        assert not sink.received


# ---------------------------------------------------------------- (c) pipe into `supportd ingest`

PIPE_USER = "nobody"  # pipe(8) refuses root and the postfix user


def as_user(user: str) -> dict:  # type: ignore[type-arg]
    """subprocess arguments that drop every root identity, as pipe(8) does."""
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _python_for(user: str) -> list[str]:
    """An interpreter the pipe user can run, with this venv's packages on its path.

    Normally the venv's own (as under /opt/supportd in production). Here the venv
    may point into /root (pyenv), which `nobody` can't enter; then Debian's
    python3 of the same version takes the venv's site-packages.
    """
    venv_site = next(p for p in site.getsitepackages() if p.startswith(sys.prefix))
    code = (f"import site, sys; site.addsitedir({venv_site!r}); "
            "from daemon.cli.main import main; sys.exit(main())")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, f"/usr/bin/{version}"):
        try:
            p = subprocess.run([python, "-c", code, "--help"], capture_output=True, cwd="/",
                               timeout=60, **as_user(user))
        except OSError:
            continue
        if p.returncode == 0:
            return [python, "-c", code]
    pytest.skip(f"no Python {version} that user {user} can run with supportd on its path")


@pytest.fixture
def pipe_root() -> Iterator[Path]:
    """The desk's state, owned by the pipe user (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="supportd-pipe-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


class PipeDesk:
    """The desk as the pipe user sees it: a config, a wrapper, the CLI run as that user."""

    def __init__(self, root: Path, user: str = PIPE_USER, *, thin: bool = False) -> None:
        """thin: pipe(8) runs the program's first module (daemon/cli/front.py), as the
        installed `supportd` script does: the thin pipe when a daemon runs."""
        self.root, self.user = root, user
        self.pw = pwd.getpwnam(user)
        self.db_dir = root / "db"
        self.db_dir.mkdir()
        self.config, _ = desk_config(root, db_url=f"sqlite:///{self.db_dir}/supportd.db")
        (root / "spool").mkdir()
        self.python = _python_for(user)
        # What pipe(8) runs: `supportd ingest` itself, its exit code untouched.
        self.ingest = root / "supportd-ingest"
        python, flag, code = self.python
        first = [python, flag, code.replace("daemon.cli.main", "daemon.cli.front")] if thin \
            else self.python
        command = shlex.join([*first, "--config", str(self.config), "ingest"])
        self.ingest.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        self.ingest.chmod(0o755)
        for path in [root, *root.rglob("*")]:
            if path != self.ingest:
                os.chown(path, self.pw.pw_uid, self.pw.pw_gid)

    def cli(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*self.python, "--config", str(self.config), *args],
                              capture_output=True, timeout=120, cwd=self.root,
                              **as_user(self.user))

    def tickets(self) -> list[dict]:
        p = self.cli("tickets", "list", "--all", "--json")
        assert p.returncode == 0, p.stderr
        listing = json.loads(p.stdout)
        assert listing["total"] == len(listing["tickets"])
        return list(listing["tickets"])

    def start_daemon(self, log: Path) -> subprocess.Popen[bytes]:
        """`supportd run` as the pipe user, its log (JSON lines) into `log`; returns when
        it answers on the spool's socket."""
        # Its workers are `python -m daemon.cli`: the same packages on their path.
        venv_site = next(p for p in site.getsitepackages() if p.startswith(sys.prefix))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), venv_site])}
        with open(log, "ab") as out:
            run = subprocess.Popen([*self.python, "--config", str(self.config), "run"],
                                   stdout=out, stderr=out, cwd=self.root, env=env,
                                   **as_user(self.user))
        sock = self.root / "spool" / "supportd.sock"
        deadline = time.monotonic() + 60
        while not sock.exists():
            if run.poll() is not None or time.monotonic() > deadline:
                run.kill()
                raise RuntimeError(f"supportd run did not start: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        return run

    def master_cf(self, maxproc: int = 2) -> str:
        # docs/admin.md (c), with this test's paths and user.
        return (f"supportd  unix  -       n       n       -       {maxproc}       pipe\n"
                f"  flags=Rq user={self.user} null_sender= directory={self.root}\n"
                f"  argv={self.ingest} --sender ${{sender}} --recipient ${{recipient}} -\n")


def test_pipe_into_supportd_ingest_and_exit_75_keeps_the_letter_queued(
        pipe_root: Path, sink: Sink) -> None:
    desk = PipeDesk(pipe_root)
    p = desk.cli("db", "upgrade")
    assert p.returncode == 0, p.stderr
    with Postfix(routes={DESK: "supportd:"}, sink_port=sink.port, master=desk.master_cf(),
                 main={"supportd_destination_recipient_limit": "1"}) as mta:
        # A letter through the pipe becomes a ticket.
        qid = send(mta, simple_letter("Через pipe", message_id="<pipe-1@client.example>"))
        mta.wait_for(lambda: "status=sent" in log_of(mta, qid), why="for delivery")
        assert "relay=supportd" in log_of(mta, qid)
        mta.wait_empty()
        tickets = desk.tickets()
        assert [t["subject"] for t in tickets] == ["Через pipe"]
        assert tickets[0]["requester"] == CLIENT

        # The database can't be written: ingest exits 75, Postfix keeps the letter.
        desk.db_dir.chmod(0o555)
        try:
            qid = send(mta, simple_letter("Пока база недоступна",
                                          message_id="<pipe-2@client.example>"))
            mta.wait_for(lambda: "status=deferred" in log_of(mta, qid), why="for the deferral")
            line = log_of(mta, qid)
            assert "temporary failure, try again later" in line, line
            queued = mta.queue()
            assert [(m["queue_id"], m["queue_name"]) for m in queued] == [(qid, "deferred")]
            # ingest kept nothing of its own: the letter lives only in Postfix's queue
            spooled = [f for f in (pipe_root / "spool").rglob("*") if f.is_file()
                       and "store" not in f.relative_to(pipe_root / "spool").parts]
            assert not spooled, spooled
        finally:
            desk.db_dir.chmod(0o755)

        # Fixed: `postqueue -f` delivers it, and it is exactly one ticket.
        mta.flush()
        mta.wait_empty()
        assert "status=sent" in log_of(mta, qid)
        subjects = sorted(t["subject"] for t in desk.tickets())
        assert subjects == ["Пока база недоступна", "Через pipe"]
        assert not sink.received  # nothing bounced


def test_pipe_hands_letters_to_a_running_daemon_the_thin_way(
        pipe_root: Path, sink: Sink) -> None:
    """The same pipe(8) line with `supportd run` up (as the same user): `ingest`
    spools each letter, exits 0, and the daemon makes the tickets (thin_pipe.py)."""
    desk = PipeDesk(pipe_root, thin=True)
    assert desk.cli("db", "upgrade").returncode == 0
    log = pipe_root / "daemon.log"
    run = desk.start_daemon(log)
    try:
        with Postfix(routes={DESK: "supportd:"}, sink_port=sink.port,
                     master=desk.master_cf(),
                     main={"supportd_destination_recipient_limit": "1"}) as mta:
            qids = [send(mta, simple_letter(f"Тонкий pipe {i}",
                                            message_id=f"<thin-{i}@client.example>"))
                    for i in range(5)]
            mta.wait_empty(60)
            for qid in qids:
                assert "status=sent" in log_of(mta, qid), log_of(mta, qid)
        deadline = time.monotonic() + 60
        while len(desk.tickets()) < 5:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert sorted(t["subject"] for t in desk.tickets()) == [
            f"Тонкий pipe {i}" for i in range(5)]
        events = [json.loads(ln) for ln in log.read_text().splitlines() if ln.startswith("{")]
        assert [e.get("via") for e in events if e["event"] == "letter.accepted"] == \
            ["pipe"] * 5
        assert not sink.received  # nothing bounced
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(60)


# ---------------------------------------------------------------- (d) outgoing through Postfix


def test_acknowledgements_leave_through_postfix(start_daemon, sink: Sink) -> None:  # type: ignore[no-untyped-def]
    mta = Postfix(sink_port=sink.port, local_users=("techsupport", "postmaster", *STAFF))
    d = start_daemon(lmtp=True,
                     outbound=f'transport = "smtp"\nhost = "127.0.0.1"\nport = {mta.port}')
    mta.routes[DESK] = f"lmtp:inet:127.0.0.1:{d.port}"
    with mta:
        send(mta, simple_letter("Ответ придёт через Postfix", message_id="<out-1@client.example>"))
        got = mta.wait_for(lambda: sink.to(CLIENT), timeout=30, why="for the acknowledgement")
        ticket = d.wait_for(d.tickets)[0]
        tid = ticket["tid"]
        ack = parse(got[0].data)
        assert got[0].mail_from == DESK
        assert f"[{tid}]" in str(ack["Subject"])
        assert ack["Auto-Submitted"] == "auto-replied"
        assert ack["In-Reply-To"] == "<out-1@client.example>"
        plain = ack.get_body(("plain",))
        assert plain is not None and tid in plain.get_content()
        assert "mx.test.invalid" in str(ack["Received"])  # it went through our Postfix
        # The assignee's notification went the same way.
        assignee = ticket["assignee"]
        mta.wait_for(lambda: sink.to(assignee), timeout=30, why="for the staff notification")
        mta.wait_empty()
        assert not d.outbox()  # nothing fell back to a Maildir


# ---------------------------------------------------------------- (e) too big for supportd


def test_a_letter_too_big_for_supportd_is_bounced_to_its_sender_not_lost(
        start_daemon, sink: Sink) -> None:  # type: ignore[no-untyped-def]
    d = start_daemon(lmtp=True, max_size=8192)
    big = simple_letter("Большое письмо", ("x" * 70 + "\n") * 400)  # ~28 KB
    with Postfix(routes={DESK: f"lmtp:inet:127.0.0.1:{d.port}"}, sink_port=sink.port) as mta:
        # Postfix's own limit (10 MB by default) lets it in; supportd's LHLO says
        # "SIZE 8192", so Postfix does not even try, and bounces it to the sender.
        qid = send(mta, big)
        mta.wait_for(lambda: "status=bounced" in log_of(mta, qid), why="for the bounce")
        line = log_of(mta, qid)
        assert "dsn=5.3.4" in line and "exceeds size limit 8192 of server" in line, line
        dsn = mta.wait_for(lambda: sink.to(CLIENT), why="for the bounce to reach the sender")
        assert dsn[0].mail_from in ("", "<>")  # a bounce has the null sender
        report = parse(dsn[0].data)
        assert report.get_content_type() == "multipart/report"
        assert "exceeds size limit 8192" in dsn[0].data.decode("utf-8", "replace")
        mta.wait_empty()
        assert d.tickets() == []

        # Better: Postfix's message_size_limit no larger than supportd's, so the
        # client's own server hears the refusal at once and nobody gets a bounce.
        mta.postconf(message_size_limit="8192")

        def advertised() -> str:
            with smtplib.SMTP(mta.host, mta.port, timeout=30) as probe:
                probe.ehlo("mail.client.example")
                return probe.esmtp_features.get("size", "")

        # The reload is asynchronous: an smtpd of the old configuration may still
        # take a connection or two.
        mta.wait_for(lambda: advertised() == "8192", why="for smtpd to take the new limit")
        with smtplib.SMTP(mta.host, mta.port, timeout=30) as s:
            s.ehlo("mail.client.example")
            assert s.esmtp_features["size"] == "8192"
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                s.sendmail(CLIENT, [DESK], crlf(big))
        assert refused.value.smtp_code == 552
        assert b"5.3.4 Message size exceeds fixed limit" in refused.value.smtp_error
        assert mta.queue() == [] and len(sink.received) == 1 and d.tickets() == []
