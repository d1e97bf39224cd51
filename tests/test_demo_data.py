"""The shipped seed data: real catalog, two provinces, five division levels, demo accounts."""

from __future__ import annotations

from collections import Counter

import pytest

from tongban.catalog.formschema import schema_check
from tongban.catalog.services import load_demo_catalog_document
from tongban.core.ids import validate_uscc


def test_demo_catalog_meets_the_bar() -> None:
    document = load_demo_catalog_document()
    items = document["items"]
    real = [item for item in items if not item["synthetic_adaptation"]]
    assert len(items) >= 30 and len(real) >= 30
    assert len({item["department"] for item in items}) >= 6
    assert {item["division"][:2] for item in items} == {"44", "33"}
    for item in items:
        validate_uscc(item["department"])
        assert item["implementation_code"].startswith(item["department"])
        assert len(item["implementation_code"]) == 31
        assert 0 <= item["committed_limit_days"] <= item["legal_limit_days"]
        assert item["materials"], item["name"]
        schema_check(item["form_schema"])
    assert len({item["implementation_code"] for item in items}) == len(items)
    assert "MIT" in document["attribution"]


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_complete() -> None:
    from tongban.catalog.models import ServiceItem
    from tongban.config.demo import seed_demo
    from tongban.core.models import Division
    from tongban.identity.models import Citizen, StaffMember

    accounts = seed_demo(synthetic_people=5)
    counts = (ServiceItem.objects.count(), StaffMember.objects.count(), Citizen.objects.count())
    seed_demo(synthetic_people=5)
    assert (
        ServiceItem.objects.count(),
        StaffMember.objects.count(),
        Citizen.objects.count(),
    ) == counts
    from tongban.config.demo_bundles import ITEMS as BUNDLE_ITEMS

    # The demo catalog's items plus the synthetic items of the 一件事 scenarios.
    assert counts[0] == len(load_demo_catalog_document()["items"]) + len(BUNDLE_ITEMS)
    levels = Counter(Division.objects.values_list("level", flat=True))
    assert set(levels) == {"nation", "province", "city", "county", "township"}
    usernames = {account.username for account in accounts}
    assert {"13800138000", "admin", "gd-catalog-admin"} <= usernames
    assert all(item.current_version is not None for item in ServiceItem.objects.all())
