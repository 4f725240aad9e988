"""Step: a verdict for every attachment (regulation §5.7), contents kept.

Every attachment's bytes are stored content-addressed whatever the verdict:
a rejected screenshot is still evidence staff may want. The verdicts go into
the acknowledgement.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.attachments import judge
from daemon.pipeline.context import Letter


def run(letter: Letter, session: Session, app: App) -> None:
    if letter.parsed is None:
        return
    letter.verdicts = [judge(a.filename, a.content, a.content_type)
                       for a in letter.parsed.attachments]
