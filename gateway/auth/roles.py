"""The staff roles and what a signed-in person is allowed to see.

Roles are additive.  ``handler`` (and ``mailroom`` when towns are assigned) work inside their
towns; the county-wide roles see every town.  ``admin`` manages accounts and settings and is not
implicitly allowed into case work: a route names every role it admits.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.labels import ROLE_LABELS

ROLES: dict[str, str] = ROLE_LABELS  # the role codes, with their names from the one catalogue
COUNTY_WIDE = frozenset({"operator", "triage", "supervisor"})
# Roles allowed to reveal a citizen's full name, phone number and e-mail (an audited action).
REVEAL_PERSONAL = frozenset({"operator", "handler", "supervisor"})


def check_roles(roles: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The roles as a set; ``ValueError`` in Chinese (an admin reads it) for none or an unknown one."""
    unknown = sorted(set(roles) - ROLES.keys())
    if unknown:
        raise ValueError(f"没有这个角色：{'、'.join(unknown)}")
    if not roles:
        raise ValueError("至少要选择一个角色")
    return frozenset(roles)


@dataclass(frozen=True)
class Principal:
    """The signed-in member of staff, as routes see them (``request.state.user``)."""

    id: int
    username: str
    display_name: str
    roles: frozenset[str]
    towns: frozenset[str]
    must_change_password: bool = False

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def county_wide(self) -> bool:
        return bool(self.roles & COUNTY_WIDE) or (self.has("mailroom") and not self.towns)

    def can_access_town(self, hall_code: str | None) -> bool:
        """Whether this person may see and act on cases of the hall ``hall_code``."""
        if self.county_wide:
            return True
        return hall_code is not None and hall_code in self.towns

    def town_filter(self) -> frozenset[str] | None:
        """``None`` for county-wide staff, else the hall codes their lists are limited to."""
        return None if self.county_wide else self.towns

    @property
    def may_reveal_personal_data(self) -> bool:
        return bool(self.roles & REVEAL_PERSONAL)

    @property
    def role_labels(self) -> list[str]:
        return [ROLES[role] for role in ROLES if role in self.roles]
