"""Reads about who is acting."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

from .models import Citizen, Enterprise, StaffMember


@dataclass(frozen=True)
class Actor:
    """The person behind a request, resolved once per request."""

    user: User | None
    citizen: Citizen | None = None
    staff: StaffMember | None = None

    @property
    def label(self) -> str:
        """How the audit log names the actor (an id, never personal data)."""
        if self.staff is not None:
            return f"staff:{self.user.pk}"  # type: ignore[union-attr]
        if self.citizen is not None:
            return f"citizen:{self.user.pk}"  # type: ignore[union-attr]
        if self.user is not None:
            return f"user:{self.user.pk}"
        return "anonymous"

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None


ANONYMOUS = Actor(user=None)


def actor_for_user(user: AbstractBaseUser | AnonymousUser | None) -> Actor:
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    assert isinstance(user, User)
    # Reverse one-to-ones: free when the caller loaded them with select_related (see
    # USER_RELATIONS), one query each otherwise.
    try:
        citizen: Citizen | None = user.citizen
    except Citizen.DoesNotExist:
        citizen = None
    try:
        staff: StaffMember | None = user.staff_member
    except StaffMember.DoesNotExist:
        staff = None
    return Actor(user=user, citizen=citizen, staff=staff)


# select_related paths that make actor_for_user free of queries.
USER_RELATIONS = ("citizen", "staff_member")


def enterprises_for_agent(*, citizen: Citizen | None) -> list[Enterprise]:
    """Enterprises the citizen may act for (有效的经办人授权)."""
    if citizen is None:
        return []
    return list(
        Enterprise.objects.filter(agents__citizen=citizen, agents__is_active=True).order_by("name")
    )
