"""One-time enrolment codes: a district team issues one for a household, a citizen redeems it.

Only a code's SHA-256 is kept; a code expires, serves once, and a newer one for the same
household replaces it. Nothing asks for or keeps a national ID number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from geo.access import Scope
from geo.citizens import code_digest, new_code, shown
from geo.errors import InvalidInputError, NotFoundError
from layers.access import scope as scoped
from layers.access.users import User, add_user
from layers.store.models import EnrolmentCode, Household


@dataclass(frozen=True)
class Issued:
    """A code as the slip shows it (the only time it is shown), for whom, until when."""

    code: str
    household_id: str
    subdistrict_code: str
    expires_at: dt.datetime


def issue(
    conn: Connection, issuer: str, scope: Scope, household_id: str, now: dt.datetime, days: int
) -> Issued:
    """A new code for ``household_id``, which ``scope`` must hold; earlier unused ones end.

    Raises
    ------
    NotFoundError
        If the household is not one the scope may see (as if it did not exist).
    """
    subdistrict = conn.scalar(
        select(Household.subdistrict_code)
        .where(Household.household_id == household_id, scoped.households(scope))
        .order_by(Household.round.desc())
        .limit(1)
    )
    if subdistrict is None:
        raise NotFoundError("no such household")  # the id is not echoed
    conn.execute(
        update(EnrolmentCode)
        .where(
            EnrolmentCode.household_id == household_id,
            EnrolmentCode.used_at.is_(None),
            EnrolmentCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    code = new_code()
    expires = now + dt.timedelta(days=days)
    conn.execute(
        insert(EnrolmentCode).values(
            code_hash=code_digest(code),
            household_id=household_id,
            subdistrict_code=subdistrict,
            issued_by=issuer,
            issued_at=now,
            expires_at=expires,
        )
    )
    return Issued(shown(code), household_id, subdistrict, expires)


def redeem(conn: Connection, code: str, name: str, password: str, now: dt.datetime) -> User | None:
    """The citizen account ``code`` makes (name and password chosen by the citizen).

    None when the code is unknown, used, replaced or expired (the caller counts the failure).
    The code's row is locked, so one code makes one account even when sent twice at once.
    """
    row = conn.execute(
        select(EnrolmentCode.id, EnrolmentCode.household_id, EnrolmentCode.subdistrict_code)
        .where(
            EnrolmentCode.code_hash == code_digest(code),
            EnrolmentCode.used_at.is_(None),
            EnrolmentCode.revoked_at.is_(None),
            EnrolmentCode.expires_at > now,
        )
        .with_for_update()
    ).one_or_none()
    if row is None:
        return None
    try:
        with conn.begin_nested():  # a name taken at the same moment is a clear refusal
            user = add_user(
                conn,
                name,
                "citizen",
                area=row.subdistrict_code,
                household=row.household_id,
                password=password,
            )
    except IntegrityError:
        raise InvalidInputError(f"username: {name!r} is taken", field="username") from None
    conn.execute(
        update(EnrolmentCode).where(EnrolmentCode.id == row.id).values(used_at=now, used_by=name)
    )
    return user
