"""Feature gating for views (basic mode): the shared gates of `gates`.

@subscription_required                  any active or trialing subscription
@plan_required('pro')                   that plan (by its slug in BILLING_PLANS)
@plan_required(['pro', 'enterprise'])   any of these plans
@feature_required('api_access')         a plan whose BILLING_PLANS `features` include it
"""

from __future__ import annotations

from .gates import feature_required, plan_required, subscription_required

__all__ = ["feature_required", "plan_required", "subscription_required"]
