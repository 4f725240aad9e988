"""Rule files beside the config: a broken topic or knowledge-base entry is named with
its file and line (daemon.config.rule_files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config.rule_files import load_entries, load_topics
from daemon.config.schema import Config, ConfigError

ENTRY = '''[[entry]]
id = "{id}"
title = "Руководство по установке"
keywords = [{keywords}]
link = "{link}"
'''


def kb(tmp_path: Path, *entries: str) -> Path:
    (tmp_path / "kb").mkdir(exist_ok=True)
    (tmp_path / "kb" / "guides.toml").write_text("# guides\n\n" + "\n".join(entries),
                                                  encoding="utf-8")
    return tmp_path / "kb"


def test_the_shipped_topics_load() -> None:
    topics = load_topics("scope.rules", Config().scope_rules_path)
    assert {t.code for t in topics if not t.in_scope} == {
        "signature", "crypto", "hosting", "internet", "third-party", "custom-dev"}
    assert [t.clause for t in topics if t.in_scope] == ["4.1", "4.2", "4.3", "4.4", "4.5", "4.6"]


def test_a_good_knowledge_base_loads(tmp_path: Path) -> None:
    [e] = load_entries("knowledge.folder", kb(tmp_path, ENTRY.format(
        id="install-guide", keywords='"установка", "дистрибутив"', link="https://d.example/i")))
    assert (e.id, e.keywords, e.line) == ("install-guide", ("установка", "дистрибутив"), 3)


@pytest.mark.parametrize(("entry", "where"), [
    (ENTRY.format(id="a", keywords='"установка"', link="ftp://x"), "guides.toml:13: entry[1].link"),
    (ENTRY.format(id="a", keywords="", link="https://x.example"),
     "guides.toml:12: entry[1].keywords: is empty"),
    (ENTRY.format(id="a", keywords='"—"', link="https://x.example"),
     "guides.toml:12: entry[1].keywords: [0] '—' holds no word"),
    (ENTRY.format(id="install-guide", keywords='"x"', link="https://x.example"),
     "guides.toml:10: entry[1].id: 'install-guide' is already an entry in guides.toml:3"),
    ('[[entry]]\nid = "b"\nlink = "https://x.example"\nkeywords = ["x"]\n',
     "guides.toml:9: entry[1].title: is missing"),
    ('[[entry]]\nid = "b"\ntitel = "опечатка"\n', "guides.toml:11: entry[1].titel: unknown key"),
])
def test_a_broken_entry_is_named_with_its_file_and_line(tmp_path: Path, entry: str,
                                                       where: str) -> None:
    good = ENTRY.format(id="install-guide", keywords='"установка"', link="https://d.example/i")
    with pytest.raises(ConfigError) as err:
        load_entries("knowledge.folder", kb(tmp_path, good, entry))
    assert err.value.key == "knowledge.folder" and where in str(err.value)


def test_bad_toml_is_named_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"guides.toml: not valid TOML.*line 4"):
        load_entries("knowledge.folder", kb(tmp_path, '[[entry]]\nid = "a\n'))


def test_a_topic_that_would_match_nothing_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "scope.toml"
    path.write_text('[[topic]]\ncode = "x"\ntitle = "Икс"\nclause = "4.1"\n'
                    'strong = []\nwords = []\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scope.toml:6: topic\[0\].words: no words"):
        load_topics("scope.rules", path)


def test_an_out_of_scope_topic_needs_its_reason_and_where_to_turn(tmp_path: Path) -> None:
    path = tmp_path / "scope.toml"
    path.write_text('[[topic]]\ncode = "x"\ntitle = "Икс"\nclause = "1.4"\nin_scope = false\n'
                    'words = ["хостинг"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scope.toml:1: topic\[0\].reason: is missing"):
        load_topics("scope.rules", path)


def test_check_config_names_a_missing_morphology(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from daemon.config import loader

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pymorphy3_dicts_ru" else real(name, *a))
    with pytest.raises(ConfigError, match=r"scope.enabled: the Russian morphology is not "
                                          r"installed \(pymorphy3-dicts-ru\)"):
        loader.validate(Config())
