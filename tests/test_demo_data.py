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
    from tongban.core.models import Division
    from tongban.demo.seed import seed_demo
    from tongban.identity.models import Citizen, StaffMember

    accounts = seed_demo(synthetic_people=5)
    counts = (ServiceItem.objects.count(), StaffMember.objects.count(), Citizen.objects.count())
    seed_demo(synthetic_people=5)
    assert (
        ServiceItem.objects.count(),
        StaffMember.objects.count(),
        Citizen.objects.count(),
    ) == counts
    from tongban.demo.bundles import ITEMS as BUNDLE_ITEMS

    # The demo catalog's items plus the synthetic items of the 一件事 scenarios.
    assert counts[0] == len(load_demo_catalog_document()["items"]) + len(BUNDLE_ITEMS)
    levels = Counter(Division.objects.values_list("level", flat=True))
    assert set(levels) == {"nation", "province", "city", "county", "township"}
    usernames = {account.username for account in accounts}
    assert {"13800138000", "admin", "gd-catalog-admin"} <= usernames
    assert all(item.current_version is not None for item in ServiceItem.objects.all())


@pytest.mark.django_db
def test_demo_bundles_prefill_from_shared_data() -> None:
    """The demo seeds grants for the 一件事 items too: 退休一件事 fills the applicant's name
    and ID number from the population registry, with nothing refused as 未获授权."""
    from tongban.cases.bundles.services import bundle_prefill_for
    from tongban.demo.seed import DEMO_CITIZEN_PHONE, seed_demo
    from tongban.exchange.models import DataUseRecord, Grant, GrantStatus
    from tongban.identity.models import Citizen
    from tongban.identity.selectors import actor_for_user

    seed_demo(synthetic_people=5)
    citizen = Citizen.objects.get(phone=DEMO_CITIZEN_PHONE)
    assert Grant.objects.filter(
        purpose__in=_bundle_item_codes("retirement"), status=GrantStatus.APPROVED
    ).exists()
    form, shared = bundle_prefill_for(
        actor=actor_for_user(citizen.user), bundle_code="retirement", situation={}
    )
    filled = {form.schema["properties"][name]["x-element"]: v for name, v in shared.values.items()}
    assert filled["person.name"] == citizen.real_name
    assert filled["person.id_number"] == citizen.id_number
    assert not [why for why in shared.unavailable.values() if "授权" in why and "未" in why]
    assert DataUseRecord.objects.filter(kind="prefill", outcome="answered").exists()

    # 新生儿出生一件事: the guardian is the applicant — name and ID number come from the
    # population registry, and the guardian's identity card is 零材料 for every item.
    yes = {"settle_here": "是", "social_card": "是", "maternity_claim": "是"}
    form, shared = bundle_prefill_for(
        actor=actor_for_user(citizen.user), bundle_code="newborn", situation=yes
    )
    filled = {form.schema["properties"][name]["x-element"]: v for name, v in shared.values.items()}
    assert filled["person.name"] == citizen.real_name
    assert filled["person.id_number"] == citizen.id_number
    (id_card,) = [m for m in form.materials if m.name == "监护人居民身份证"]
    assert id_card.code in shared.derived and id_card.code not in shared.unavailable


def _bundle_item_codes(bundle_code: str) -> list[str]:
    from tongban.catalog.models import BundleItem

    return list(
        BundleItem.objects.filter(bundle__code=bundle_code).values_list(
            "item__implementation_code", flat=True
        )
    )
