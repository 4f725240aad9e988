"""A real, throw-away Dovecot IMAP server on loopback for the integration tests.

`Dovecot` writes its own configuration into a fresh folder and starts
``dovecot -F -c CONFIG`` as a child in its own process group, so the system's
/etc/dovecot is never read and stopping it is one `killpg`. The server listens
on 127.0.0.1 on a free port, without TLS, with plain-text logins allowed, and
knows one user from a passwd-file; mail lives in a Maildir under the folder.

    with Dovecot() as server:
        server.deliver(raw)               # APPEND as the user, returns the UID
        server.list_uids("INBOX"), server.flags("INBOX")
        server.restart()

When Dovecot is not installed, `Dovecot.require()` (and entering the context
manager) skips the test.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from imapclient import IMAPClient

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
SKIP_REASON = "dovecot not installed (apt-get install dovecot-imapd)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dovecot_binary() -> str | None:
    found = shutil.which("dovecot") or (DOVECOT if os.path.exists(DOVECOT) else None)
    return found


def _doveadm_binary() -> str:
    return shutil.which("doveadm") or DOVEADM


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class Dovecot:
    """One Dovecot instance; `start()`/`stop()` or use it as a context manager."""

    def __init__(self, user: str = "support", password: str = "s3cret-pass", *,
                 oauth2_introspection_url: str = "") -> None:
        self.user = user
        self.password = password
        # Set: the server also takes XOAUTH2 and OAUTHBEARER, an access token being
        # good when this endpoint (RFC 7662) says it is active and the user's.
        self.oauth2_introspection_url = oauth2_introspection_url
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="supportd-dovecot-"))
        # The mail processes run unprivileged and must reach their Maildir.
        self.root.chmod(0o755)
        self.config_path = self.root / "dovecot.conf"
        self.password_file = self.root / "password"
        self.log_path = self.root / "dovecot.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    # ------------------------------------------------------------ set-up

    @staticmethod
    def available() -> bool:
        return _dovecot_binary() is not None

    @classmethod
    def require(cls) -> None:
        if not cls.available():
            pytest.skip(SKIP_REASON)

    def _identities(self) -> tuple[str, str, int, int]:
        """(internal user, login user, mail uid, mail gid) that work for who we are."""
        if os.geteuid() == 0:
            internal = "dovecot" if _user_exists("dovecot") else "nobody"
            login = "dovenull" if _user_exists("dovenull") else "nobody"
            mail = pwd.getpwnam("nobody")  # never uid 0: Dovecot refuses root mail
            return internal, login, mail.pw_uid, mail.pw_gid
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid

    def _write_config(self) -> None:
        internal, login, uid, gid = self._identities()
        home = self.root / "home" / self.user
        home.mkdir(parents=True)
        if os.geteuid() == 0:
            for d in (self.root / "home", home):
                os.chown(d, uid, gid)
        (self.root / "state").mkdir()
        self.password_file.write_text(self.password + "\n", encoding="utf-8")
        passwd = self.root / "users"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}:{uid}:{gid}::{home}::\n",
                          encoding="utf-8")
        passwd.chmod(0o644)
        mechanisms, oauth2 = "plain login", ""
        if self.oauth2_introspection_url:
            mechanisms += " xoauth2 oauthbearer"
            oauth2 = self._oauth2_passdb()
        self.config_path.write_text(f"""# written by tests/support/dovecot.py
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log_path}
protocols = imap
listen = {self.host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {passwd}
}}
{oauth2}userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
""", encoding="utf-8")

    def _oauth2_passdb(self) -> str:
        settings = self.root / "dovecot-oauth2.conf.ext"
        settings.write_text(f"""introspection_mode = post
introspection_url = {self.oauth2_introspection_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
""", encoding="utf-8")
        settings.chmod(0o644)
        return f"""passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {settings}
}}
"""

    # ------------------------------------------------------------ life cycle

    def start(self, timeout: float = 15.0) -> Dovecot:
        binary = _dovecot_binary()
        if binary is None:
            pytest.skip(SKIP_REASON)
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.proc = subprocess.Popen(
            [binary, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError), \
                    socket.create_connection((self.host, self.port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            # The master stops its children itself; the group kill below is a backstop.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # The master is gone; make sure no child of its group outlives it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self._wait_port_closed()

    def _wait_port_closed(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.05)

    def restart(self) -> None:
        """Stop and start again on the same port; the mail stays."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"

    # ------------------------------------------------------------ the mailbox

    @contextlib.contextmanager
    def client(self, folder: str | None = None, readonly: bool = True) -> Iterator[IMAPClient]:
        """A logged-in IMAP session as the user (with `folder` selected if given)."""
        c = IMAPClient(self.host, self.port, ssl=False, timeout=15)
        try:
            c.login(self.user, self.password)
            if folder is not None:
                c.select_folder(folder, readonly=readonly)
            yield c
        finally:
            with contextlib.suppress(Exception):
                c.logout()

    def deliver(self, raw: bytes, folder: str = "INBOX") -> int:
        """Put a letter into `folder` (created if missing); returns its UID."""
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            answer = c.append(folder, raw)
        m = re.search(rb"APPENDUID \d+ (\d+)", answer)
        if m is None:
            raise RuntimeError(f"no APPENDUID in {answer!r}")
        return int(m.group(1))

    def list_uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            return sorted(int(u) for u in c.search(["ALL"]))

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID → flags and keywords, as text (``\\Seen``, ``$SupportdDone``)."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return {}
            c.select_folder(folder, readonly=True)
            uids = c.search(["ALL"])
            if not uids:
                return {}
            found = c.get_flags(uids)
        return {int(uid): {f.decode() if isinstance(f, bytes) else str(f) for f in fl}
                for uid, fl in found.items()}

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as c:
            status = c.folder_status(folder, ["UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def doveadm(self, *args: str) -> str:
        """Run doveadm against this instance's configuration."""
        done = subprocess.run([_doveadm_binary(), "-c", str(self.config_path), *args],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.returncode}\n"
                               f"{done.stdout}{done.stderr}")
        return done.stdout

    def set_uidvalidity(self, value: int, folder: str = "INBOX") -> None:
        """Give `folder` a new UIDVALIDITY, as a restored or migrated server would."""
        self.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(value), folder)


@contextlib.contextmanager
def running_dovecot(**kw: str) -> Iterator[Dovecot]:
    """`with running_dovecot() as server:` — started, and removed afterwards."""
    Dovecot.require()
    server = Dovecot(**kw)
    try:
        yield server.start()
    finally:
        server.cleanup()
