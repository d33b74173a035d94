from __future__ import annotations

from django import forms

from .models import Membership


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(
        choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")],
        initial=Membership.Role.MEMBER,
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
