"""The configuration in force as TOML, every default filled in (`supportd config show`,
like `postconf -n` / `doveconf -n`), or every key with its default and its one-line
doc (`--defaults`). Pure: a Config in, text out; what it prints loads back as the
same Config, but for a password in the database URL, shown as ***.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from daemon.config.schema import Config

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def hide_password(url: str) -> str:
    """A database URL with its password as ***: shown on screens and in logs."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def toml_key(key: str) -> str:
    return key if key and set(key) <= _BARE else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def _doc(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("doc", ""))


def _table(name: str, obj: Any, docs: bool, array: bool = False) -> Iterator[str]:
    yield f"[[{name}]]" if array else f"[{name}]"
    nested = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) or (
                isinstance(value, Mapping) and value and
                all(dataclasses.is_dataclass(v) for v in value.values())):
            nested.append((f, value))
            continue
        if name == "storage" and f.name == "url":
            value = hide_password(value)
        line = f"{toml_key(f.name)} = {toml_value(value)}"
        yield f"{line}  # {_doc(f)}" if docs and _doc(f) else line
    for f, value in nested:
        if dataclasses.is_dataclass(value):
            yield ""
            yield from _table(f"{name}.{f.name}", value, docs)
            continue
        for key, item in value.items():
            yield ""
            yield from _table(f"{name}.{f.name}.{toml_key(str(key))}", item, docs)


def render(config: Config, *, docs: bool = False, extra: Mapping[str, str] = {}) -> str:
    """`config` as TOML; `docs`: each key's one-line doc as a comment; `extra`:
    comment lines under a section's table (what a section drives, e.g. its jobs)."""
    lines = [f"# supportd configuration in force: {config.source}"
             if not docs else "# every key with its default (supportd config show --defaults)"]
    for f in dataclasses.fields(config):
        if f.name == "source":
            continue
        value = getattr(config, f.name)
        lines.append("")
        if docs and _doc(f):
            lines.append(f"# {f.name}: {_doc(f)}")
        if isinstance(value, tuple):  # [[staff]]
            if not value and docs:  # the keys of one table, commented out
                (item_type, _) = typing.get_args(typing.get_type_hints(Config)[f.name])
                lines.extend(f"# {line}" for line in _table(f.name, item_type(), docs, True))
            for item in value:
                lines.extend(_table(f.name, item, docs, array=True))
                lines.append("")
            continue
        lines.extend(_table(f.name, value, docs))
        if f.name in extra:
            lines.extend(f"# {line}" for line in extra[f.name].splitlines())
    return "\n".join(lines).rstrip() + "\n"
