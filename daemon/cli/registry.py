"""`supportd orgs import|list` and `supportd coupons issue|list`: the registry of
partners, licensees and users (§5.8) and the special-request coupons (§3.6)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from daemon.cli.common import EX_DATAERR, _app, _print_json


def cmd_orgs_import(args: argparse.Namespace) -> int:
    from daemon.storage import db
    from daemon.tickets.registry import OrgReport, RegistryError, import_orgs, load_file

    try:
        entries = load_file(Path(args.file))
    except (OSError, RegistryError) as exc:
        print(f"registry error: {exc}", file=sys.stderr)
        return EX_DATAERR
    app = _app(args)
    report: list[OrgReport] = []
    with db.unit_of_work(app.sessions) as session:
        created, updated = import_orgs(session, entries, replace_all=args.replace,
                                       dry_run=args.dry_run, report=report)
        if args.dry_run:
            session.rollback()
    if args.dry_run:
        for org in report:
            print(f"{org.label}: {org.status}")
            for line in org.changes if org.status != "new" else ():
                print(f"  {line}")
        print(f"dry run: {len(entries)} organisations, {created} new, {updated} updated; "
              "nothing written")
        return 0
    print(f"imported {len(entries)} organisations: {created} new, {updated} updated")
    return 0


def cmd_orgs_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from daemon.storage.models import Org

    app = _app(args)
    with app.sessions() as session:
        orgs = [{"name": o.name, "category": o.category, "inn": o.inn, "ogrn": o.ogrn,
                 "emails": o.emails, "domains": o.domains, "logins": o.logins,
                 "licences": [{"product": lic.product, "edition": lic.edition,
                               "purchased": lic.purchased.isoformat() if lic.purchased else None,
                               "plan": lic.plan} for lic in o.licences]}
                for o in session.scalars(select(Org).order_by(Org.name))]
    if args.json:
        _print_json(orgs)
    else:
        for o in orgs:
            plans = ", ".join(f"{lic['product']} ({lic['plan']})" for lic in o["licences"])
            print(f"{o['inn'] or '-':<12} {o['category']:<9} {o['name']}  {plans}")
    return 0


def cmd_coupons_issue(args: argparse.Namespace) -> int:
    from daemon.storage import db
    from daemon.tickets.coupons import CouponError, issue

    app = _app(args)
    try:
        with db.unit_of_work(app.sessions) as session:
            coupon = issue(session, args.inn, app.now().astimezone(app.config.tz))
            data = _coupon_view(session, coupon)
    except CouponError as exc:
        print(str(exc), file=sys.stderr)
        return EX_DATAERR
    if args.json:
        _print_json(data)
    else:
        print(f"{data['code']}  {data['org']}  12 requests, valid until {data['valid_until']}")
    return 0


def _coupon_view(session: Any, c: Any) -> dict[str, Any]:
    from daemon.storage.models import Org

    org = session.get(Org, c.org_id)
    return {"code": c.code, "org": org.name if org else None, "inn": org.inn if org else None,
            "valid_until": c.valid_until.isoformat(), "requests_total": c.requests_total,
            "requests_used": c.requests_used,
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None}


def cmd_coupons_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from daemon.storage.models import Coupon

    app = _app(args)
    with app.sessions() as session:
        rows = [_coupon_view(session, c)
                for c in session.scalars(select(Coupon).order_by(Coupon.id))]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            state = "revoked" if r["revoked_at"] else f"{r['requests_used']}/{r['requests_total']}"
            print(f"{r['code']}  {state:<8} until {r['valid_until']}  {r['inn']}  {r['org']}")
    return 0


def add_parsers(sub: Any) -> None:
    orp = sub.add_parser("orgs", help="the registry of organisations").add_subparsers(
        dest="org_command", required=True)
    s = orp.add_parser("import", help="add organisations, or update the fields the file "
                                      "carries (TOML or CSV)")
    s.add_argument("file")
    s.add_argument("--replace", action="store_true",
                   help="the file is the whole truth of each organisation it names: fields "
                        "it leaves out are cleared")
    s.add_argument("--dry-run", action="store_true",
                   help="print the changes per organisation; write nothing")
    s.set_defaults(func=cmd_orgs_import)
    s = orp.add_parser("list")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_orgs_list)

    cop = sub.add_parser("coupons", help="special-request coupons (§3.6)").add_subparsers(
        dest="coupon_command", required=True)
    s = cop.add_parser("issue", help="issue a coupon of 12 requests (revokes the old one)")
    s.add_argument("--inn", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_coupons_issue)
    s = cop.add_parser("list")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_coupons_list)
