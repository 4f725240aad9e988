"""Every letter template rendered once with sample data: `check-config`'s proof that
the daemon can answer before it takes a letter.

The templates the code asks for are the ones shipped in the package
(`daemon/templates/emails/`); a folder set in `[service] templates` must hold each
of them, and each must compile and render. The sample is permissive (`Sample`):
any name or attribute a template reads is there, an empty list when looped over,
so a customised template that reads something new still renders; what is caught
is what would stop every letter: a missing folder or template, a syntax error, an
unknown filter, a broken `include`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2

from daemon.config.schema import SHIPPED_TEMPLATES, Config
from daemon.outbound.templating import make_environment


class Sample:
    """Stands for any value a template may read: text, a number, a date, a record."""

    def __getattr__(self, name: str) -> Sample:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: object) -> Sample:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Sample:
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return "образец"

    def __html__(self) -> str:
        return str(self)

    def _same(self, *other: Any) -> Sample:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _same
    __mod__ = __floordiv__ = __neg__ = _same

    def __eq__(self, other: object) -> bool:
        return other is self

    def __lt__(self, other: object) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = object.__hash__


class _SampleUndefined(jinja2.Undefined):
    """A name no sample holds reads as a `Sample` too."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return Sample()

    def __getitem__(self, key: object) -> Sample:  # type: ignore[override]
        return Sample()

    def __call__(self, *args: Any, **kwargs: Any) -> Sample:  # type: ignore[override]
        return Sample()

    def __str__(self) -> str:
        return "образец"

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __bool__(self) -> bool:
        return True


def required_templates() -> list[str]:
    """The letter templates the code renders: those shipped, partials included."""
    return sorted(str(p.relative_to(SHIPPED_TEMPLATES)) for p in SHIPPED_TEMPLATES.rglob("*.j2"))


def template_problems(config: Config) -> list[str]:
    """One line per template that would fail, naming it; [] when all render."""
    folder = config.templates_dir
    if not folder.is_dir():
        return [f"{folder} is not a folder of letter templates (it holds none of the "
                f"{len(required_templates())} the daemon sends from)"]
    env = make_environment(config)
    env.undefined = _SampleUndefined
    problems = []
    for name in required_templates():
        if not (folder / name).is_file():
            problems.append(f"{Path(folder, name)} is missing (copy it from {SHIPPED_TEMPLATES})")
            continue
        try:
            template = env.get_template(name, globals={
                "service": config.service, "calendar": config.calendar})
            template.render({})
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"{name}, line {exc.lineno}: {exc.message}")
        except Exception as exc:
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return problems
