"""Config: every bad value is refused with its key named; defaults need no file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from daemon.config.loader import check_open_files, files_needed, load
from daemon.config.schema import Config, ConfigError, parse_duration
from daemon.outbound.russian import duration_words, plural

BOX = "techsupport@example.ru"
OAUTH = f"""[imap]
enabled = true
auth = "xoauth2"
username = "{BOX}"
oauth_token_url = "https://login.example/token"
oauth_client_id = "desk"
oauth_refresh_token_file = "/var/lib/supportd/oauth/imap.refresh"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_need_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPORTD_CONFIG", raising=False)
    cfg = load()
    assert cfg.service.address == "techsupport@example.ru"
    assert cfg.smtp.port == 8025 and cfg.storage.url.startswith("sqlite:///")
    assert cfg.sla.default_level == "consultation"


def test_the_demo_config_is_valid() -> None:
    cfg = load(Path(__file__).resolve().parents[3] / "config" / "supportd.toml")
    assert [s.role for s in cfg.staff].count("head") == 1


@pytest.mark.parametrize(("text", "key"), [
    ('[service]\naddress = "not-an-address"', "service.address"),
    ('[service]\ntimezone = "Mars/Olympus"', "service.timezone"),
    ('[service]\nadress = "x@y.z"', "service.adress"),
    ('[smtp]\nport = "25"', "smtp.port"),
    ("[smtp]\nport = 70000", "smtp.port"),
    ("[smtp]\nenabled = 1", "smtp.enabled"),
    ("[smtp]\ntimeout = 0", "smtp.timeout"),
    ("[smtp]\nmax_connections = 0", "smtp.max_connections"),
    ("[smtp]\nmax_connections_per_client = 0", "smtp.max_connections_per_client"),
    ("[smtp]\nmax_connections = 10\nmax_connections_per_client = 11",
     "smtp.max_connections_per_client"),
    ('[outbound]\ntransport = "pigeon"', "outbound.transport"),
    ('[outbound]\nretry_base = "soon"', "outbound.retry_base"),
    ('[[staff]]\nname = "A"\nemail = "a@b.ru"\nrole = "boss"', "staff[0].role"),
    ('[[staff]]\nname = "A"\nemail = "nobody"', "staff[0].email"),
    ('[calendar]\nday_start = "19:00"', "calendar.day_end"),
    ('[calendar]\nday_start = "9am"', "calendar.day_start"),
    ('[calendar.overrides]\n"2026-13-01" = "off"', "calendar.overrides.2026-13-01"),
    ('[calendar.overrides]\n"2026-12-30" = "18:00-10:00"', "calendar.overrides.2026-12-30"),
    ('[calendar.overrides]\n"2026-12-30" = "sometimes"', "calendar.overrides.2026-12-30"),
    ('[sla.levels.gold]\nreaction = "1h"', "sla.levels.gold"),
    ('[sla.levels.consultation]\nreaction = "41h"', "sla.levels.consultation"),
    ('[sla.levels.consultation]\nclock = "lunar"', "sla.levels.consultation.clock"),
    ('[sla.levels.development]\nreaction = "24h"', "sla.levels.development.reaction"),
    ('[sla]\ndefault_level = "gold"', "sla.default_level"),
    ("[scheduler]\nwarn_at = 1.5", "scheduler.warn_at"),
    ('[calendar.overrides]\n"2026-12-31" = "off"\n"20261231" = "working"',
     "calendar.overrides.20261231"),
    ('[imap]\nenabled = true', "imap.username"),
    ("[imap]\npoll_interval = 2.5", "imap.poll_interval"),
    ("[imap]\npoll_interval = -300", "imap.poll_interval"),
    ("[imap]\npoll_interval = true", "imap.poll_interval"),
    ('[imap]\npoll_interval = "-5s"', "imap.poll_interval"),
    ("[scheduler]\nsweep_interval = 0.5", "scheduler.sweep_interval"),
    ("[screen]\nduplicate_window = [60]", "screen.duplicate_window"),
    ("[service\naddress = 1", "(file)"),
    ('[imap]\nauth = "kerberos"', "imap.auth"),
    ('[outbound]\nauth = "xoauth2"', "outbound.username"),
    (f'[outbound]\nauth = "xoauth2"\nusername = "{BOX}"', "outbound.oauth_token_url"),
    (OAUTH.replace("oauth_client_id = \"desk\"\n", ""), "imap.oauth_client_id"),
    (OAUTH.replace("oauth_refresh_token_file", "#"), "imap.oauth_refresh_token_file"),
    (OAUTH.replace("https://login.example/token", "http://login.example/token"),
     "imap.oauth_token_url"),
    (OAUTH.replace("https://login.example/token", "login.example/token"),
     "imap.oauth_token_url"),
    (OAUTH + 'password_file = "/etc/supportd/imap.password"\n', "imap.password_file"),
    (OAUTH.replace('"xoauth2"', '"password"'), "imap.auth"),
    ('[spam]\nbackend = "spamhaus"', "spam.backend"),
    ("[spam]\nhold_score = 20.0\nreject_score = 15.0", "spam.hold_score"),
    ("[spam]\nhold_score = 0", "spam.hold_score"),
    ("[spam]\nkeep_days = 0", "spam.keep_days"),
    ('[spam]\nbackend = "spamassassin"\nspamd = "127.0.0.1:783"', "spam.spamd"),
    ('[spam]\nrspamd_url = "127.0.0.1:11333"', "spam.rspamd_url"),
    ('[spam]\nmax_wait = "soon"', "spam.max_wait"),
    ('[spam]\ntimeout = "0s"', "spam.timeout"),
    ('[antivirus]\nclamd = "/run/clamav/clamd.ctl"', "antivirus.clamd"),
    ('[antivirus]\nclamd = "tcp:127.0.0.1:99999"', "antivirus.clamd"),
])
def test_a_bad_value_names_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text))
    assert err.value.key == key, str(err.value)


def test_the_listener_caps_must_fit_under_the_open_file_limit() -> None:
    cfg = Config()  # 256 connections: 2 files each and 128 beside
    assert files_needed(cfg) == 640
    check_open_files(cfg, 1024)  # a shell's usual soft limit is enough for the defaults
    check_open_files(cfg, -1)  # RLIM_INFINITY
    with pytest.raises(ConfigError) as err:
        check_open_files(cfg, 512)
    assert err.value.key == "smtp.max_connections"
    assert "640 open files" in str(err.value) and "512" in str(err.value)
    check_open_files(replace(cfg, smtp=replace(cfg.smtp, enabled=False)), 512)


def test_levels_and_overrides_from_config(tmp_path: Path) -> None:
    from daemon.app import App

    cfg = load(write(tmp_path, '[sla.levels.licensee-standard]\nreaction = "8h"\n'
                               '[sla.levels.development]\nreaction = "20d"\n'
                               '[calendar.overrides]\n"2026-12-30" = "10:00-15:00"\n'
                               '"2026-11-25" = "off"\n'))
    app = App(cfg)
    assert app.sla.level("licensee-standard").reaction.total_seconds() == 8 * 3600
    assert app.sla.level("development").reaction == 20
    from datetime import date, time

    assert app.sla.calendar.hours_of(date(2026, 12, 30)) == (time(10), time(15))
    assert app.sla.calendar.hours_of(date(2026, 11, 25)) is None


@pytest.mark.parametrize(("text", "seconds"), [("45s", 45), ("90m", 5400), ("6h", 21600),
                                               ("2d", 172800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_oauth2_for_the_mailbox_and_the_relay(tmp_path: Path) -> None:
    relay = OAUTH.replace("[imap]\nenabled = true", "[outbound]\ntransport = \"smtp\"").replace(
        '"xoauth2"', '"oauthbearer"') + 'oauth_scope = "https://mail.google.com/"\n'
    cfg = load(write(tmp_path, OAUTH + 'oauth_client_secret_file = "/etc/s"\n' + relay))
    assert (cfg.imap.auth, cfg.outbound.auth) == ("xoauth2", "oauthbearer")
    assert cfg.imap.oauth_client_secret_file == "/etc/s"
    assert cfg.outbound.oauth_scope == "https://mail.google.com/"
    local = load(write(tmp_path, OAUTH.replace("https://login.example", "http://127.0.0.1:9")))
    assert local.imap.oauth_token_url == "http://127.0.0.1:9/token"  # loopback: no TLS needed


def test_whole_seconds_are_a_duration(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "[imap]\npoll_interval = 300\n[outbound]\nretry_base = 0\n"
                               'retry_max = "2h"\n[scheduler]\nsweep_interval = 45\n'
                               "[screen]\nduplicate_window = 86400\n"))
    assert parse_duration(cfg.imap.poll_interval).total_seconds() == 300
    assert parse_duration(cfg.outbound.retry_base).total_seconds() == 0
    assert parse_duration(cfg.outbound.retry_max).total_seconds() == 7200
    assert parse_duration(cfg.scheduler.sweep_interval).total_seconds() == 45
    assert parse_duration(cfg.screen.duplicate_window).total_seconds() == 86400


def test_a_bad_duration_says_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, "[imap]\npoll_interval = 2.5\n"))
    assert str(err.value) == ("imap.poll_interval: 2.5 is not a duration: write whole seconds "
                              "(300) or '90s', '30m', '6h', '2d'")


def test_a_config_built_in_code_has_its_durations_checked() -> None:
    import dataclasses

    from daemon.config.loader import validate
    from daemon.config.schema import Config, Duration, SchedulerConfig

    cfg = Config(scheduler=SchedulerConfig(sweep_interval=Duration("often")))
    with pytest.raises(ConfigError) as err:
        validate(dataclasses.replace(cfg))
    assert err.value.key == "scheduler.sweep_interval"


@pytest.mark.parametrize(("n", "word"), [(1, "час"), (2, "часа"), (4, "часа"), (5, "часов"),
                                         (11, "часов"), (12, "часов"), (21, "час"),
                                         (22, "часа"), (40, "часов"), (111, "часов")])
def test_russian_plurals(n: int, word: str) -> None:
    assert plural(n, "час", "часа", "часов") == word


def test_reaction_time_in_words() -> None:
    from datetime import timedelta

    assert duration_words(timedelta(hours=40), "working") == "40 рабочих часов"
    assert duration_words(timedelta(hours=3), "working") == "3 рабочих часа"
    assert duration_words(timedelta(hours=1), "calendar") == "1 час"
    assert duration_words(timedelta(minutes=90), "working") == "90 рабочих минут"
    assert duration_words(24, "working_days") == "24 рабочих дня"
    assert duration_words(21, "working_days") == "21 рабочий день"


def test_every_bad_key_of_a_file_is_named_at_once(tmp_path: Path) -> None:
    from daemon.config.schema import ConfigErrors

    path = tmp_path / "supportd.toml"
    path.write_text('[service]\naddress = "nobody"\ncolour = "blue"\n[smtp]\nport = "25"\n'
                    'timeout = 0\n[[staff]]\nemail = "x"\n[[staff]]\nrole = "boss"\n'
                    '[calendar]\nday_start = "25:00"\n', encoding="utf-8")
    with pytest.raises(ConfigErrors) as err:
        load(path)
    assert sorted(e.key for e in err.value.each()) == [
        "calendar.day_start", "service.address", "service.colour", "smtp.port",
        "smtp.timeout", "staff[0].email", "staff[1].email", "staff[1].role"]
    assert err.value.key == "service.colour"  # the first, for callers that read one


def test_scanner_addresses(tmp_path: Path) -> None:
    from daemon.config.loader import socket_address

    assert socket_address("k", "unix:/run/clamav/clamd.ctl") == ("unix", "/run/clamav/clamd.ctl",
                                                                   0)
    assert socket_address("k", "tcp:127.0.0.1:3310") == ("tcp", "127.0.0.1", 3310)
    assert socket_address("k", "tcp:[::1]:783") == ("tcp", "::1", 783)
    cfg = load(write(tmp_path, '[spam]\nbackend = "rspamd"\n[antivirus]\n'
                               'clamd = "unix:/run/clamav/clamd.ctl"\n'))
    assert cfg.spam.hold_score == 8.0 and cfg.spam.reject_score == 15.0
    assert cfg.spam.max_wait == "30m" and cfg.antivirus.clamd.startswith("unix:")
