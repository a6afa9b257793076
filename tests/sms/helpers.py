"""Shared steps of the SMS tests: a case ready to be answered, a handler to answer it."""

from __future__ import annotations

from gateway.auth.users import add_user
from gateway.console.actions import Actor, transition
from gateway.core.services import Services
from tests.helpers import make_intake
from tests.staff import PASSWORD


async def handler(services: Services) -> Actor:
    return Actor(await add_user(services.store, "supervisor1", PASSWORD, ["supervisor"]))


async def case_to_answer(services: Services, actor: Actor, ref: str = "form-token-1", **intake: object) -> str:
    """A new 差评 moved to 整改中 (where 答复 is allowed); returns its code."""
    result = await services.ingestor.ingest(make_intake(source_ref=ref, **intake))
    for action, note in (("start_verification", None), ("verify_valid", "属实"), ("rectify", None)):
        await transition(services, result.case_code, action, actor, note)
    return result.case_code
