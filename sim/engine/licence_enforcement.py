"""Licence enforcement during a run: what each role needs, what it holds, what happens
when it tries something its licences do not allow, and its requests against entitlements.

``models.licensing`` says what licences grant and cost (pure rules and prices); this
module applies them to simulated people.

The rights a role **needs** follow from its actions and the design: an action that saves
an entity in a system needs ``write`` there, but only if the design lets users save that
entity there at all (under ``readonly-workaround`` an Operations credit controller never
writes accounts: the save is refused and handed off, so no write right is needed, only
``read``). Reading what an action looks at needs ``read``.

A scenario may **fix** a role's licences (``roles.<role>.licences: [team_members]``).
Then every save is checked before it happens: a save the user's licences do not cover
becomes a handoff to a colleague of a role whose licences do (after a delay, and it is
work for that colleague), or is refused when nobody can do it or the user gives up.
Both are counted (``licence_handoffs``, ``licence_refusals``) and appear in reports.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.actions import resolve_action
from models.design import DesignSpec
from models.licensing import (
    STANDARD_ENTITIES,
    SYSTEMS,
    PriceBook,
    Right,
    coverage,
    custom_entity,
)


def _licensable(system: str, entity: str) -> bool:
    return system in SYSTEMS


def _right_entity(entity: str) -> str:
    """The licensing name of an entity: a custom one is ``custom:<name>`` (a save of a
    custom entity needs a custom-entity right, which Team Members' cap counts)."""
    return entity if entity in STANDARD_ENTITIES else custom_entity(entity)


def role_required_rights(role, design: DesignSpec) -> frozenset[Right]:
    """The rights one user of ``role`` needs under ``design`` (see the module docstring)."""
    needed: set[Right] = set()
    for action_name, rate in role.actions.items():
        if rate <= 0:
            continue
        action = resolve_action(action_name)
        system = next((s for s in role.systems if s in action.systems), None)
        if system is None:
            continue
        for entity in action.reads + action.writes:
            if _licensable(system, entity):
                needed.add(Right(system, _right_entity(entity), "read"))
        for entity in action.writes:
            if system in design.editable.get(entity, {}) and _licensable(system, entity):
                needed.add(Right(system, _right_entity(entity), "write"))
    return frozenset(needed)


class LicenceGate:
    """Answers "may this user save this?" for roles whose licences the scenario fixes."""

    def __init__(
        self, book: PriceBook, fixed: Mapping[str, tuple[str, ...]], home: Mapping[str, str]
    ) -> None:
        self.book = book
        self.fixed = dict(fixed)
        self.home = dict(home)
        self._cache: dict[tuple[str, str, str], bool] = {}

    def allows(self, role: str, system: str, entity: str) -> bool:
        """True when ``role`` may write ``entity`` in ``system`` (unfixed roles may)."""
        skus = self.fixed.get(role)
        if skus is None or not _licensable(system, entity):
            return True
        key = (role, system, entity)
        allowed = self._cache.get(key)
        if allowed is None:
            allowed = (
                coverage(self.book, skus, [Right(system, _right_entity(entity), "write")])
                is not None
            )
            self._cache[key] = allowed
        return allowed

    def colleague(self, system: str, entity: str, exclude: str) -> str | None:
        """The first role (scenario order) working in ``system`` whose licences allow it
        (a role whose licences the scenario leaves open is assumed licensed for it)."""
        for role in self.home:
            if (
                role != exclude
                and self.home.get(role) == system
                and self.allows(role, system, entity)
            ):
                return role
        return None


#: Requests one user save attempt costs: the read that opened the form, and the write.
REQUESTS_PER_SAVE = 2


def entitlement_metrics(
    scenario, per_role_day: dict[tuple[str, int], int], integration_day: dict[int, int]
) -> dict[str, float]:
    """Requests consumed per 24 h against the licences' daily entitlements.

    Consumption is the busiest simulated day (entitlements are per rolling 24 h): a
    user's save attempts times ``REQUESTS_PER_SAVE``, per user of each role; the sync's
    applies into Dataverse systems for the integration identities, which draw on the
    tenant pool. Entitlements exist only where the scenario fixes a role's licences:
    per user, the largest entitlement of each product line held, summed over lines
    (licences from different product lines add up; an attach adds nothing); the pool is
    the book's base plus its amount per user holding a licence, up to its maximum.
    """
    metrics: dict[str, float] = {}
    book = scenario.price_book
    pool_users = 0
    for role_name, role in scenario.spec.roles.items():
        busiest = max((n for (r, _), n in per_role_day.items() if r == role_name), default=0)
        if role.headcount:
            metrics[f"requests_per_user_per_24h.{role_name}"] = (
                REQUESTS_PER_SAVE * busiest / role.headcount
            )
        if role.licences is not None and book is not None:
            per_line: dict[str, int] = {}
            for sku_id in role.licences:
                sku = book.sku(sku_id)
                per_line[sku.product_line] = max(
                    per_line.get(sku.product_line, 0), sku.requests_per_day
                )
            metrics[f"entitlement_per_user_per_24h.{role_name}"] = float(sum(per_line.values()))
            if role.licences:
                pool_users += role.headcount
    metrics["integration_requests_per_24h"] = float(max(integration_day.values(), default=0))
    if book is not None and pool_users:
        pool = book.requests.tenant_pool
        total = pool.base_requests_per_day + pool.per_base_licence_requests_per_day * pool_users
        if pool.max_requests_per_day is not None:
            total = min(total, pool.max_requests_per_day)
        metrics["integration_entitlement_per_24h"] = float(total)
    return metrics
