"""Segment definitions a marketing team would write, as many as asked (deterministic).

They mix every kind of subject the condition language reads (traits, computed traits,
profile times, identities, consent, other segments), with `all`/`any`/`not` nesting, time
windows and consent purposes, so that evaluating them costs what real ones would.
"""

from __future__ import annotations

from typing import Any

from bench.workload import CATEGORIES


def segment_definitions(count: int) -> list[dict[str, Any]]:
    return [_definition(number) for number in range(count)]


def _definition(number: int) -> dict[str, Any]:
    step = number // len(_TEMPLATES)
    make = _TEMPLATES[number % len(_TEMPLATES)]
    condition, purpose = make(step)
    definition: dict[str, Any] = {
        "id": f"s{number:04d}-{make.__name__.strip('_').replace('_', '-')}",
        "name": f"Segment {number}",
        "condition": condition,
    }
    if purpose:
        definition["purpose"] = purpose
    if number >= len(_TEMPLATES) and number % 7 == 0:
        # Some segments build on others (evaluated after them).
        base = _definition(number - len(_TEMPLATES))["id"]
        definition["condition"] = {"all": [{"segment": base}, condition]}
    return definition


Made = tuple[dict[str, Any], str | None]


def _buyers(step: int) -> Made:
    return {"computed": "orders_30d", "gte": 1 + step % 3}, None


def _big_spenders(step: int) -> Made:
    return {"computed": "revenue_90d", "gte": 100 + 50 * (step % 10)}, None


def _active_pro(step: int) -> Made:
    return {
        "all": [
            {"trait": "plan", "eq": "pro"},
            {"profile": "last_seen", "within": 7 + step % 30},
        ]
    }, None


def _category_fans(step: int) -> Made:
    category = CATEGORIES[step % len(CATEGORIES)]
    return {
        "any": [
            {"computed": "favorite_category", "eq": category},
            {"trait": "interests", "contains": category},
        ]
    }, "personalization"


def _lapsed(step: int) -> Made:
    return {
        "all": [
            {"profile": "last_seen", "older_than": 30 + step % 60},
            {"identity": "email", "exists": True},
        ]
    }, "marketing"


def _engaged_readers(step: int) -> Made:
    return {
        "all": [
            {"consent": "marketing"},
            {"computed": "email_opens_30d", "gte": 1 + step % 4},
            {"not": {"computed": "orders_90d", "gte": 1}},
        ]
    }, "marketing"


def _browsers(step: int) -> Made:
    return {"computed": "page_views_30d", "between": [5 + step % 20, 500]}, None


def _movers(step: int) -> Made:
    return {
        "all": [
            {"trait": "moving_soon", "eq": True},
            {"trait_set_at": "moving_soon", "within": 90 + step % 90},
        ]
    }, "marketing"


def _families(step: int) -> Made:
    return {"trait": "children", "gte": 1 + step % 3}, "personalization"


def _newcomers(step: int) -> Made:
    return {
        "all": [
            {"profile": "first_seen", "within": 3 + step % 14},
            {"profile": "event_count", "gte": 3},
            {
                "any": [
                    {"trait": "newsletter", "eq": True},
                    {"identity": "user_id", "exists": False},
                ]
            },
        ]
    }, None


def _recent_orders(step: int) -> Made:
    return {"computed": "days_since_last_order", "between": [0, 7 + step % 60]}, None


def _name_prefix(step: int) -> Made:
    letters = "ABCDEF"
    return {"trait": "first_name", "prefix": letters[step % len(letters)]}, None


_TEMPLATES = (
    _buyers,
    _big_spenders,
    _active_pro,
    _category_fans,
    _lapsed,
    _engaged_readers,
    _browsers,
    _movers,
    _families,
    _newcomers,
    _recent_orders,
    _name_prefix,
)
