"""Reads about who is acting."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

from .models import Citizen, StaffMember


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
    citizen = Citizen.objects.filter(user=user).first()
    staff = StaffMember.objects.select_related("department", "scope").filter(user=user).first()
    return Actor(user=user, citizen=citizen, staff=staff)
