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
    from daemon.tickets.registry import RegistryError, import_orgs, load_file

    try:
        entries = load_file(Path(args.file))
    except (OSError, RegistryError) as exc:
        print(f"registry error: {exc}", file=sys.stderr)
        return EX_DATAERR
    app = _app(args)
    with db.unit_of_work(app.sessions) as session:
        created, updated = import_orgs(session, entries)
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
