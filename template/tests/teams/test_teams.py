"""Teams, memberships and invitations, the same in both billing modes: the pages as people use
them (allauth sign-up included) and the rules of roles and invitation links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.teams.models import Invitation, Membership
from apps.teams.selectors import hash_token
from tests.teams_support import PASSWORD, accept, join, person, send_invitation, team_of

pytestmark = pytest.mark.django_db


def test_a_new_team_has_its_creator_as_owner_and_members_as_the_spec_uses_them():
    alice = person("alice@example.com")
    response = alice.client.post(reverse("teams:list"), {"name": "Acme Corp"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=alice.user)
    assert (membership.team.slug, membership.role) == ("acme-corp", "owner")
    assert list(membership.team.members.all()) == [alice.user]
    bob = person("bob@example.com")
    membership.team.members.add(bob.user)  # through_defaults: a plain member
    assert membership.team.members.count() == 2
    assert Membership.objects.get(user=bob.user).role == "member"


def test_an_invitation_link_signs_the_invitee_up_and_lands_them_in_the_team():
    alice = person("alice@example.com")
    team = team_of(alice)
    token = send_invitation(alice, team, "Carol@Example.com")
    assert mail.outbox[-1].to == ["carol@example.com"]
    # Only the token's hash is stored.
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash

    visitor = Client()
    link = reverse("teams:invitation", args=[token])
    page = visitor.get(link)
    assert page.status_code == 200 and "Sign up" in page.content.decode()
    signup = visitor.post(
        f"{reverse('account_signup')}?next={link}",
        {"email": "carol@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert signup.status_code == 302 and signup["Location"] == link
    landed = visitor.post(link)
    assert landed["Location"] == reverse("teams:detail", args=[team.slug])
    assert visitor.get(landed["Location"]).status_code == 200
    assert team.members.filter(email="carol@example.com").exists()


def test_an_invitee_with_an_account_logs_in_from_the_link_and_joins():
    alice = person("alice@example.com")
    team = team_of(alice)
    bob = person("bob@example.com")
    token = send_invitation(alice, team, bob.user.email)
    visitor = Client()
    link = reverse("teams:invitation", args=[token])
    login = visitor.post(
        f"{reverse('account_login')}?next={link}",
        {"login": "bob@example.com", "password": PASSWORD},
    )
    assert login.status_code == 302 and login["Location"] == link
    assert "Join Acme" in visitor.get(link).content.decode()
    assert visitor.post(link)["Location"] == reverse("teams:detail", args=[team.slug])
    assert Membership.objects.get(team=team, user=bob.user).role == "member"


def test_an_invitation_works_once():
    alice, bob = person("alice@example.com"), person("bob@example.com")
    team = team_of(alice)
    token = send_invitation(alice, team, bob.user.email)
    assert accept(bob, token).status_code == 302
    again = accept(bob, token)
    assert again.status_code == 404
    assert "used already" in again.content.decode()
    assert team.members.count() == 2


def test_an_expired_invitation_is_refused():
    alice, bob = person("alice@example.com"), person("bob@example.com")
    team = team_of(alice)
    token = send_invitation(alice, team, bob.user.email)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bob.client.get(reverse("teams:invitation", args=[token])).status_code == 404
    refused = accept(bob, token)
    assert "expired" in refused.content.decode()
    assert not team.members.filter(pk=bob.user.pk).exists()


def test_an_invitation_is_for_the_address_it_was_sent_to():
    alice, mallory = person("alice@example.com"), person("mallory@example.com")
    team = team_of(alice)
    token = send_invitation(alice, team, "bob@example.com")
    refused = accept(mallory, token)
    assert "was sent to bob@example.com" in refused.content.decode()
    assert team.members.count() == 1


def test_a_new_invitation_to_the_same_address_withdraws_the_earlier_link():
    alice, bob = person("alice@example.com"), person("bob@example.com")
    team = team_of(alice)
    first = send_invitation(alice, team, bob.user.email)
    second = send_invitation(alice, team, bob.user.email)
    assert "withdrawn" in accept(bob, first).content.decode()
    assert accept(bob, second).status_code == 302


def test_only_owners_and_admins_invite():
    alice, bob = person("alice@example.com"), person("bob@example.com")
    team = team_of(alice)
    join(alice, team, bob)
    response = bob.client.post(
        reverse("teams:invite", args=[team.slug]), {"email": "x@example.com", "role": "member"}
    )
    assert response.status_code == 403
    assert not Invitation.objects.filter(email="x@example.com").exists()


def test_role_changes_follow_the_rules():
    alice, bob, carol = person("alice@example.com"), person("bob@example.com"), person("c@x.io")
    team = team_of(alice)
    join(alice, team, bob)
    join(alice, team, carol)

    def set_role(actor, target, role):
        url = reverse("teams:change_role", args=[team.slug, target.user.pk])
        return actor.client.post(url, {"role": role})

    def role_of(p):
        return Membership.objects.get(team=team, user=p.user).role

    assert set_role(alice, bob, "admin").status_code == 302 and role_of(bob) == "admin"
    # An admin moves people between member and admin, never to or from owner.
    assert set_role(bob, carol, "admin").status_code == 302 and role_of(carol) == "admin"
    assert set_role(bob, carol, "owner").status_code == 403 and role_of(carol) == "admin"
    assert set_role(bob, alice, "member").status_code == 403 and role_of(alice) == "owner"
    # A plain member changes nothing.
    set_role(alice, carol, "member")
    assert set_role(carol, bob, "member").status_code == 403 and role_of(bob) == "admin"
    # The last owner stays owner; with a second owner, the first may step down.
    set_role(alice, bob, "owner")
    assert set_role(bob, alice, "member").status_code == 302 and role_of(alice) == "member"
    page = set_role(bob, bob, "member")
    assert page.status_code == 302 and role_of(bob) == "owner"


def test_owners_and_admins_remove_members_but_the_last_owner_stays():
    alice, bob, carol = person("alice@example.com"), person("bob@example.com"), person("c@x.io")
    team = team_of(alice)
    join(alice, team, bob, role="admin")
    join(alice, team, carol)

    def remove(actor, target):
        return actor.client.post(reverse("teams:remove_member", args=[team.slug, target.user.pk]))

    assert remove(bob, alice).status_code == 403  # an admin cannot remove an owner
    assert remove(bob, carol).status_code == 302
    assert not team.members.filter(pk=carol.user.pk).exists()
    # A removed member no longer sees the team.
    assert carol.client.get(reverse("teams:detail", args=[team.slug])).status_code == 404
    remove(alice, alice)
    assert team.members.filter(pk=alice.user.pk).exists()


def test_only_members_see_a_team_and_only_owners_and_admins_its_billing():
    alice, bob, eve = person("alice@example.com"), person("bob@example.com"), person("e@x.io")
    team = team_of(alice)
    join(alice, team, bob)
    team_of(eve, name="Other")
    detail = reverse("teams:detail", args=[team.slug])
    billing_pages = [
        ("get", reverse("teams:billing", args=[team.slug])),
        ("post", reverse("teams:billing_checkout", args=[team.slug])),
        ("get", reverse("teams:billing_success", args=[team.slug])),
        ("post", reverse("teams:billing_portal", args=[team.slug])),
    ]
    assert bob.client.get(detail).status_code == 200
    assert eve.client.get(detail).status_code == 404
    for method, url in billing_pages:
        assert getattr(eve.client, method)(url).status_code == 404, url  # another team's member
        assert getattr(bob.client, method)(url).status_code == 403, url  # a plain member
    assert Client().get(detail).status_code == 302  # anonymous: to the login page
    assert alice.client.get(billing_pages[0][1]).status_code == 200


def test_a_user_in_several_teams_switches_the_current_one():
    alice, bob = person("alice@example.com"), person("bob@example.com")
    first = team_of(alice, name="First")
    second = team_of(bob, name="Second")
    join(bob, second, alice)  # accepting an invitation makes that team the current one
    page = alice.client.get(reverse("teams:list")).content.decode()
    assert 'Second</a> <span class="badge">current' in page
    alice.client.post(reverse("teams:switch", args=[first.slug]))
    page = alice.client.get(reverse("teams:list")).content.decode()
    assert 'First</a> <span class="badge">current' in page
    # Switching to a team one is not in is not possible.
    eve = person("eve@example.com")
    assert eve.client.post(reverse("teams:switch", args=[first.slug])).status_code == 404


def test_leaving_a_team():
    alice, bob = person("alice@example.com"), person("bob@example.com")
    team = team_of(alice)
    join(alice, team, bob)
    assert bob.client.post(reverse("teams:leave", args=[team.slug])).status_code == 302
    assert team.members.count() == 1
    alice.client.post(reverse("teams:leave", args=[team.slug]))  # the only owner stays
    assert team.members.count() == 1


def test_malformed_teams_settings_fail_the_system_checks(settings):
    from django.core.checks import run_checks

    settings.TEAMS_SEAT_PRORATION_BEHAVIOR = "sometimes"
    settings.TEAMS_INVITATION_DAYS = 0
    ids = {error.id for error in run_checks() if error.id.startswith("teams.")}
    assert ids == {"teams.E001", "teams.E002"}
