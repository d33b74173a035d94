"""What `@usage_limit` lets through and counts (advanced mode), with the decorator applied inside
each test, on plain and async views: successful answers are counted against the subscriber's
own counter of the current period, refusals and failures give the use back, and a new period
starts at zero."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from apps.billing import usage
from apps.billing.decorators import usage_limit
from apps.billing.models import UsageRecord

from . import factories

pytestmark = pytest.mark.django_db


def answer(request: HttpRequest) -> HttpResponse:
    """The view: answers with the status the request asks for (?status=), or raises."""
    if request.GET.get("crash"):
        raise RuntimeError("the view failed")
    return HttpResponse("done", status=int(request.GET.get("status", 200)))


async def async_answer(request: HttpRequest) -> HttpResponse:
    return answer(request)


BOTH = pytest.mark.parametrize("view", [answer, async_answer], ids=["sync", "async"])


def call(view: Callable[..., Any], user: Any, query: str = "") -> HttpResponse:
    request = RequestFactory().get(f"/api/things/{query}")
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    if inspect.iscoroutinefunction(view):
        return async_to_sync(view)(request)  # type: ignore[no-any-return]
    return view(request)  # type: ignore[no-any-return]


@pytest.fixture
def pro(user: Any) -> Any:
    return factories.subscription(user=user, plan=factories.plan("pro"))


@BOTH
def test_uses_are_counted_until_the_limit_then_refused(user: Any, pro: Any, view: Any) -> None:
    limited = usage_limit("api_calls", limit=2)(view)
    first, second, third = (call(limited, user) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert (first["X-Usage-Limit"], first["X-Usage-Remaining"]) == ("2", "1")
    assert (second["X-Usage-Limit"], second["X-Usage-Remaining"]) == ("2", "0")
    assert third["Content-Type"] == "application/json"
    assert json.loads(third.content) == {
        "error": "usage_limit_exceeded",
        "detail": "You have used your 2 api calls for this billing period. "
        "Upgrade your plan to continue.",
        "metric": "api_calls",
        "limit": 2,
        "used": 2,
    }
    assert usage.current_usage(pro, "api_calls") == 2
    assert UsageRecord.objects.filter(subscription_id=pro.id, metric="api_calls").count() == 2


@BOTH
def test_a_use_of_several_units_counts_them_all(user: Any, pro: Any, view: Any) -> None:
    limited = usage_limit("api_calls", limit=7, quantity=3)(view)
    assert call(limited, user)["X-Usage-Remaining"] == "4"
    assert call(limited, user)["X-Usage-Remaining"] == "1"
    assert call(limited, user).status_code == 429  # 6 + 3 > 7
    assert usage.current_usage(pro, "api_calls") == 6
    assert [record.quantity for record in UsageRecord.objects.all()] == [3, 3]


@BOTH
def test_answers_of_400_and_above_and_failures_give_the_use_back(
    user: Any, pro: Any, view: Any
) -> None:
    limited = usage_limit("api_calls", limit=1)(view)
    assert call(limited, user, "?status=400").status_code == 400
    assert call(limited, user, "?status=404").status_code == 404
    with pytest.raises(RuntimeError):
        call(limited, user, "?crash=1")
    assert usage.current_usage(pro, "api_calls") == 0
    assert not UsageRecord.objects.exists()
    assert call(limited, user, "?status=302").status_code == 302  # a redirect is a success
    assert call(limited, user).status_code == 429


def test_without_a_limit_the_plans_limit_applies(user: Any) -> None:
    plan = factories.plan("small", limits={"api_calls": 1, "exports": None})
    subscription = factories.subscription(user=user, plan=plan)
    calls = usage_limit("api_calls")(answer)
    assert call(calls, user)["X-Usage-Limit"] == "1"
    assert call(calls, user).status_code == 429
    exports = usage_limit("exports")(answer)  # null in the plan: unlimited
    for _ in range(3):
        response = call(exports, user)
        assert response.status_code == 200
        assert "X-Usage-Limit" not in response
    assert usage.current_usage(subscription, "exports") == 3
    assert call(usage_limit("storage_gb")(answer), user).status_code == 429  # not in the plan


def test_a_limit_of_zero_refuses_every_use(user: Any, pro: Any) -> None:
    assert call(usage_limit("api_calls", limit=0)(answer), user).status_code == 429


def test_each_subscriber_has_their_own_counter(user: Any, other_user: Any, pro: Any) -> None:
    theirs = factories.subscription(user=other_user, plan=pro.billing_metadata.plan)
    limited = usage_limit("api_calls", limit=1)(answer)
    assert call(limited, user).status_code == 200
    assert call(limited, other_user).status_code == 200
    assert (usage.current_usage(pro, "api_calls"), usage.current_usage(theirs, "api_calls")) == (
        1,
        1,
    )


@BOTH
def test_without_a_subscription_nothing_is_counted(user: Any, view: Any) -> None:
    limited = usage_limit("api_calls", limit=5)(view)
    response = call(limited, user)
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "subscription_required"
    assert call(limited, AnonymousUser()).status_code == 401
    assert not UsageRecord.objects.exists()


def test_a_new_period_starts_at_zero_and_never_moves_back(user: Any, pro: Any) -> None:
    limited = usage_limit("api_calls", limit=1)(answer)
    assert call(limited, user).status_code == 200
    assert call(limited, user).status_code == 429
    start = usage.period_start_of(pro)
    assert usage.start_new_period(subscription=pro, starts_at=start + timedelta(days=30))
    assert usage.current_usage(pro, "api_calls") == 0
    assert call(limited, user).status_code == 200
    assert not usage.start_new_period(subscription=pro, starts_at=start)
    assert not usage.start_new_period(subscription=pro, starts_at=start + timedelta(days=30))
    assert usage.period_start_of(pro) == start + timedelta(days=30)
    assert usage.current_usage(pro, "api_calls") == 1


@pytest.mark.parametrize(
    "arguments",
    [{"period": "week"}, {"limit": -1}, {"limit": "10"}, {"quantity": 0}, {"quantity": "1"}],
)
def test_impossible_arguments_are_refused_when_applied(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        usage_limit("api_calls", **arguments)


def test_check_usage_limit_reports_room_without_reserving(user: Any, pro: Any) -> None:
    assert usage.check_usage_limit(pro, "api_calls", limit=2) == (True, 2)
    usage.record_usage(pro, "api_calls", 2)
    assert usage.check_usage_limit(pro, "api_calls", limit=2) == (False, 0)
    assert usage.check_usage_limit(pro, "api_calls", limit=5) == (True, 3)
    assert usage.check_usage_limit(pro, "api_calls", limit=1) == (False, 0)
    summary = usage.get_usage(user, "api_calls")
    assert (summary.current, summary.limit) == (2, factories.PRO_LIMITS["api_calls"])
    assert summary.remaining == factories.PRO_LIMITS["api_calls"] - 2
