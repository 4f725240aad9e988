"""`supportd completion bash|zsh` and `supportd man`: shell completion (shtab) and a
man page, both generated from the command line's own parser, so they name every
command and option there is and no other. `make install-system` installs them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

_HIDDEN = ("worker",)  # started by `run` itself


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    sys.stdout.write(shtab.complete(args.root_parser, shell=args.shell))
    return 0


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line
                     for line in text.splitlines())


def _options(parser: argparse.ArgumentParser) -> list[str]:
    lines = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            flags = ", ".join(action.option_strings)
            metavar = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
            name = f"\\fB{_roff(flags)}\\fR{_roff(metavar)}"
        else:
            name = f"\\fI{_roff(str(action.metavar or action.dest).upper())}\\fR"
        lines += [".TP", name, _roff(action.help or "")]
    return lines


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, sub in action.choices.items():
            if name in _HIDDEN:
                continue
            full = f"{prefix} {name}".strip()
            nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
            if not nested:
                usage = sub.format_usage().replace("usage: ", "").strip()
                lines += [".SS " + _roff(full), _roff(helps.get(name) or ""), ".PP",
                          f"\\fB{_roff(usage)}\\fR", *(_options(sub))]
            lines += _commands(sub, full)
    return lines


def page(parser: argparse.ArgumentParser, version: str, today: date) -> str:
    lines = [
        f'.TH SUPPORTD 8 "{today.isoformat()}" "supportd {version}" "System Administration"',
        ".SH NAME", "supportd \\- " + _roff(parser.description or ""),
        ".SH SYNOPSIS", "\\fBsupportd\\fR [\\fB\\-\\-config\\fR \\fIPATH\\fR] "
                        "[\\fB\\-\\-now\\fR \\fITIMESTAMP\\fR] \\fICOMMAND\\fR ...",
        ".SH DESCRIPTION",
        "One daemon (\\fBsupportd run\\fR, under systemd) and the command line of the same "
        "program: an e\\-mail technical\\-support desk that turns every letter into a ticket, "
        "acknowledges it and keeps its SLA deadlines. The administrator's guide is "
        "docs/admin.md.",
        ".SH OPTIONS", *_options(parser),
        ".SH COMMANDS", *_commands(parser, "supportd"),
        ".SH EXIT STATUS",
        "sysexits(3): 0 done, 64 bad value, 65 refused input, 66 no such file, 69 not found, "
        "73 cannot create, 75 try again later (the database away, missing or behind; the MTA "
        "retries \\fBingest\\fR), 78 configuration (every problem named by its key; a database "
        "schema newer than this code).",
        ".SH ENVIRONMENT", ".TP", "\\fBSUPPORTD_CONFIG\\fR",
        "the config file when \\fB\\-\\-config\\fR is not given",
        ".TP", "\\fBSUPPORTD_NOW\\fR", "the moment the command runs at, as \\fB\\-\\-now\\fR",
        ".SH FILES", ".TP", "/etc/supportd/supportd.toml",
        "the config, when neither \\fB\\-\\-config\\fR nor \\fBSUPPORTD_CONFIG\\fR names one; "
        "never one in the current folder",
        ".SH SEE ALSO", "\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), \\fBpostconf\\fR(5)",
    ]
    return "\n".join(lines) + "\n"


def cmd_man(args: argparse.Namespace) -> int:
    from daemon import __version__

    sys.stdout.write(page(args.root_parser, __version__, date.today()))
    return 0


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("completion", help="the shell's completion script, from this parser "
                                          "(source it, or make install-system)")
    s.add_argument("shell", choices=("bash", "zsh"))
    s.set_defaults(func=cmd_completion, needs_config=False)
    s = sub.add_parser("man", help="the man page, supportd(8), from this parser")
    s.set_defaults(func=cmd_man, needs_config=False)
