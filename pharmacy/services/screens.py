"""Read-only queries the screens need and no use-case service returns: who is user 7, which
preparation is under way for an order, which bag came out of it, and when it must be used by.
Nothing here changes anything."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pharmacy.db.models import Bag, Preparation, User
from pharmacy.domain.inuse import use_by
from pharmacy.domain.lifecycle import PREP_ACTIVE
from pharmacy.services.base import Pharmacy


def user_names(pharmacy: Pharmacy, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    with pharmacy.uow(readonly=True) as uow:
        return dict(uow.session.execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all())


def active_preparations(pharmacy: Pharmacy, order_ids: Iterable[int]) -> dict[int, Preparation]:
    """order id → its preparation under way (started up to signed), with vial and diluent loaded."""
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(
            select(Preparation).where(Preparation.order_id.in_(list(order_ids)), Preparation.state.in_(PREP_ACTIVE))
            .options(selectinload(Preparation.vial), selectinload(Preparation.diluent_lot))
        ).scalars()
        return {prep.order_id: prep for prep in rows}


def bags_by_preparation(pharmacy: Pharmacy, prep_ids: Iterable[int]) -> dict[int, Bag]:
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(select(Bag).where(Bag.preparation_id.in_(list(prep_ids)))).scalars()
        return {bag.preparation_id: bag for bag in rows}


def provisional_use_by(pharmacy: Pharmacy, prep: Preparation, product_id: str) -> datetime | None:
    """Once the dilution time is stamped the in-use clock runs: the use-by the bag would get if it
    were signed now (the rule ``preparation.sign`` applies). ``prep`` needs vial and diluent loaded."""
    if prep.dilution_time is None or prep.vial is None or prep.diluent_lot is None:
        return None
    limit = pharmacy.product(product_id).in_use_limit
    return use_by(prep.dilution_time, limit, [prep.vial.expiry, prep.diluent_lot.expiry], pharmacy.zone)
