"""What the team tests of both modes share: people with their own logged-in client, a team,
and an invitation sent and accepted through the pages, as people use them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, RequestFactory, TestCase
from django.urls import reverse

from apps.billing import team_billing
from apps.teams import services
from apps.teams.models import Team

PASSWORD = "correct horse battery staple"  # noqa: S105
CARD_OK = "4242 4242 4242 4242"


@dataclass
class Person:
    user: Any
    client: Client


def person(email: str) -> Person:
    user = get_user_model().objects.create_user(email=email, password=PASSWORD)
    client = Client()
    client.force_login(user)
    return Person(user, client)


def team_of(owner: Person, name: str = "Acme") -> Team:
    return services.create_team(owner=owner.user, name=name)


def send_invitation(inviter: Person, team: Team, email: str, role: str = "member") -> str:
    """Invite `email` from the team page; the token of the link in the email sent."""
    sent = len(mail.outbox)
    response = inviter.client.post(
        reverse("teams:invite", args=[team.slug]), {"email": email, "role": role}
    )
    assert response.status_code == 302, response.content[:300]
    assert len(mail.outbox) == sent + 1, "no invitation email was sent"
    match = re.search(r"/teams/invitations/([A-Za-z0-9_-]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def gate_status(view: Any, user: Any) -> int:
    """The status a gated view answers `user` with, as an API client asks (403 when denied)."""
    request = RequestFactory().get("/api/example/", HTTP_ACCEPT="application/json")
    request.user = user
    return int(view(request).status_code)


def committed() -> Any:
    """Run what a request queued for its commit (the seat sync) as a real commit runs it: the
    tests' transaction never commits."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def accept(invitee: Person, token: str) -> Any:
    with committed():
        return invitee.client.post(reverse("teams:invitation", args=[token]))


def join(inviter: Person, team: Team, invitee: Person, role: str = "member") -> None:
    """Invite `invitee` and accept as them: they land in the team."""
    response = accept(invitee, send_invitation(inviter, team, invitee.user.email, role))
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == reverse("teams:detail", args=[team.slug])


def subscribe_team(billing_stripe: Any, owner: Person, team: Team, price_id: str) -> Any:
    """The owner buys the plan for the team on its billing page; Stripe's webhooks follow."""
    response = owner.client.post(
        reverse("teams:billing_checkout", args=[team.slug]), {"price_id": price_id}
    )
    assert response.status_code == 302, response.content[:300]
    assert "/c/pay/cs_" in response["Location"], response["Location"]
    paid = billing_stripe.fake.submit_checkout(response["Location"], CARD_OK)
    assert paid.status == 303, paid
    back = owner.client.get(paid.location)
    assert back["Location"] == reverse("teams:billing", args=[team.slug])
    billing_stripe.deliver()
    subscription = team_billing.get_team_subscription(team)
    assert subscription is not None and subscription.status == "active"
    return subscription


def remote_quantity(team: Team) -> int:
    team = Team.objects.get(pk=team.pk)  # a fresh object: stripe_subscription is cached
    return int(team.stripe_subscription["items"]["data"][0]["quantity"])
