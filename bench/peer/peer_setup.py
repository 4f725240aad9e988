"""Run inside the peer's venv: prepare a django-helpdesk desk, or report on one.

    python peer_setup.py queue MAIL_DIR   # the queue get_email reads (email_box_type=local)
    python peer_setup.py count            # JSON: tickets, follow-ups, attachments
"""

import json
import sys

import django

django.setup()

from django.contrib.sites.models import Site  # noqa: E402
from helpdesk.models import FollowUp, FollowUpAttachment, Queue, Ticket  # noqa: E402


def main() -> None:
    if sys.argv[1] == "queue":
        Site.objects.update_or_create(id=1, defaults={"domain": "example.ru",
                                                      "name": "example.ru"})
        Queue.objects.update_or_create(slug="support", defaults=dict(
            title="Техподдержка", email_address="techsupport@example.ru",
            allow_email_submission=True, email_box_type="local",
            email_box_local_dir=sys.argv[2], email_box_interval=0, logging_type="none"))
    else:
        print(json.dumps({"tickets": Ticket.objects.count(),
                          "followups": FollowUp.objects.count(),
                          "attachments": FollowUpAttachment.objects.count()}))


if __name__ == "__main__":
    main()
