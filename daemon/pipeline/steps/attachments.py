"""Step: a verdict for every attachment (regulation §5.7), contents kept.

Every attachment's bytes are stored content-addressed whatever the verdict:
a rejected screenshot is still evidence staff may want. The verdicts go into
the acknowledgement. The one exception is malware (`scan` step, clamd): such a
file is rejected as removed and never stored where staff download it; the
letter's raw bytes go to the quarantine instead (`malware` step).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.attachments import REJECTED, Verdict, judge
from daemon.pipeline.context import Letter


def run(letter: Letter, session: Session, app: App) -> None:
    if letter.parsed is None:
        return
    letter.verdicts = [judge(a.filename, a.content, a.content_type)
                       for a in letter.parsed.attachments]
    for found in letter.infections:
        if 0 <= found.index < len(letter.verdicts):
            v = letter.verdicts[found.index]
            letter.verdicts[found.index] = Verdict(
                v.filename, v.detected_type, v.size, REJECTED,
                f"удалено: найден вредоносный код ({found.signature})")
