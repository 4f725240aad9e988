"""The Jinja2 environment of the letter templates, alone: `check-config` renders every
template with it (daemon/outbound/samples.py) without loading the database code."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from daemon.config.schema import Config


def make_environment(config: Config) -> Environment:
    return Environment(loader=FileSystemLoader(str(config.templates_dir)),
                       autoescape=select_autoescape(["html.j2"]),
                       undefined=StrictUndefined, keep_trailing_newline=True,
                       # Templates are read once per process (SIGHUP reads them anew):
                       # new templates deployed under old code must not meet it.
                       auto_reload=False,
                       trim_blocks=False, lstrip_blocks=False)
