"""Billing pages: pricing from PlanConfiguration, checkout, success, subscription, portal."""

from __future__ import annotations

import pytest
import stripe
from django.contrib.messages import get_messages
from djstripe.models import Customer

from apps.billing.errors import NoStripeCustomerError
from apps.billing.utils import create_checkout_session, get_customer_portal_url

from . import factories

pytestmark = pytest.mark.django_db
NOT_CONFIGURED = "Stripe is not configured: set STRIPE_SECRET_KEY"


def stripe_calls_made(fake):
    options = {"api_key": fake.api_key}
    return bool(
        stripe.Customer.list(**options).data or stripe.checkout.Session.list(**options).data
    )


def test_pricing_lists_the_configured_plans(client, catalog):
    page = client.get("/billing/pricing/").content.decode()
    assert page.index(">Pro<") < page.index(">Enterprise<") < page.index(">Usage<")
    assert "$29" in page and "$99" in page
    assert "Most popular" in page
    assert "10,000 API calls" in page
    assert "Get started" in page  # anonymous visitors sign up first


def test_pricing_offers_checkout_to_users(client, user, catalog):
    client.force_login(user)
    page = client.get("/billing/pricing/").content.decode()
    assert f'value="{catalog["pro"].stripe_price_id}"' in page
    assert NOT_CONFIGURED not in page


def test_pricing_says_when_stripe_is_not_configured(client, settings, catalog):
    settings.STRIPE_SECRET_KEY = ""
    assert "Stripe is not configured" in client.get("/billing/pricing/").content.decode()


def test_checkout_needs_login(client, catalog):
    response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_checkout_only_accepts_posts(client, user):
    client.force_login(user)
    assert client.get("/billing/checkout/").status_code == 405


@pytest.mark.parametrize("price_id", ["", "price_unknown", "price_' OR 1=1 --"])
def test_checkout_refuses_prices_that_are_not_plans(client, user, stripe_fake, catalog, price_id):
    client.force_login(user)
    response = client.post("/billing/checkout/", {"price_id": price_id})
    assert response.status_code == 400
    assert "Unknown plan" in response.content.decode()
    assert not stripe_calls_made(stripe_fake)


def test_checkout_refuses_a_price_of_stripe_that_is_not_configured(
    client, user, stripe_fake, catalog
):
    catalog["enterprise"].delete()
    client.force_login(user)
    response = client.post(
        "/billing/checkout/", {"price_id": catalog["enterprise"].stripe_price_id}
    )
    assert response.status_code == 400
    assert not stripe_calls_made(stripe_fake)


@pytest.mark.parametrize("key", ["", "sk_test_tooshort", "pk_test_othertestsuitekey000000000000"])
def test_checkout_without_a_usable_key_explains_it(
    client, user, settings, stripe_fake, catalog, key
):
    settings.STRIPE_SECRET_KEY = key
    client.force_login(user)
    response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    assert response.status_code == 503
    page = response.content.decode()
    assert "Stripe is not configured" in page
    assert "STRIPE_SECRET_KEY" in page
    assert "Traceback" not in page
    assert not stripe_calls_made(stripe_fake)


def test_checkout_redirects_to_stripe_and_links_the_customer(client, user, stripe_fake, catalog):
    client.force_login(user)
    response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    assert response.status_code == 302
    session_id = response["Location"].rsplit("/", 1)[-1]
    session = stripe.checkout.Session.retrieve(session_id, api_key=stripe_fake.api_key)
    customer = Customer.objects.get(subscriber=user)
    assert session.customer == customer.id
    assert session.metadata.to_dict() == {"plan_slug": "pro", "djstripe_subscriber": str(user.pk)}
    assert session.client_reference_id == str(user.pk)
    assert session.success_url.endswith("/billing/success/?session_id={CHECKOUT_SESSION_ID}")
    assert stripe.Customer.retrieve(customer.id, api_key=stripe_fake.api_key).metadata[
        "djstripe_subscriber"
    ] == str(user.pk)


def test_create_checkout_session_as_documented(rf, user, stripe_fake, catalog, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    request = rf.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    request.user = user

    session = create_checkout_session(
        user=request.user,
        price_id=request.POST.get("price_id"),
        success_url=request.build_absolute_uri(
            "/billing/success/?session_id={CHECKOUT_SESSION_ID}"
        ),
        cancel_url=request.build_absolute_uri("/pricing/"),
        metadata={"plan_slug": "pro"},  # Custom metadata
    )

    assert session.url.startswith(stripe_fake.url)
    assert session.cancel_url == "http://testserver/pricing/"  # where "Back" leads
    paid = stripe_fake.submit_checkout(session.id)
    assert paid.location == f"http://testserver/billing/success/?session_id={session.id}"
    done = stripe.checkout.Session.retrieve(
        session.id, expand=["subscription"], api_key=stripe_fake.api_key
    )
    assert done.subscription.status == "trialing"  # BILLING_TRIAL_PERIOD_DAYS
    assert done.subscription.metadata["plan_slug"] == "pro"
    trial_days = (done.subscription.trial_end - done.subscription.trial_start) // 86400
    assert trial_days == 14


def test_checkout_of_a_metered_plan_adds_its_metered_price(user, stripe_fake, catalog):
    plan = catalog["usage"]
    assert plan.is_metered
    session = create_checkout_session(
        user, plan.stripe_price_id, "https://app.example/ok", "https://app.example/no"
    )
    items = stripe.checkout.Session.list_line_items(session.id, api_key=stripe_fake.api_key)
    assert sorted(item.price.id for item in items.data) == sorted(
        [plan.stripe_price_id, plan.metered_price_id]
    )


def test_a_subscriber_is_sent_to_manage_the_plan_instead(client, user, stripe_fake, catalog):
    factories.subscription(user=user, plan=catalog["pro"])
    client.force_login(user)
    response = client.post(
        "/billing/checkout/", {"price_id": catalog["enterprise"].stripe_price_id}
    )
    assert response.status_code == 302 and response["Location"] == "/billing/subscription/"
    assert not stripe_calls_made(stripe_fake)


def test_stripe_errors_become_a_readable_page(client, user, stripe_fake, catalog):
    stripe.Price.modify(catalog["pro"].stripe_price_id, active=False, api_key=stripe_fake.api_key)
    client.force_login(user)
    response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    assert response.status_code == 502
    assert "Stripe could not start checkout" in response.content.decode()


def test_subscription_page(client, user):
    client.force_login(user)
    assert "have a subscription yet" in client.get("/billing/subscription/").content.decode()


def test_portal_without_a_customer_goes_to_pricing(client, user, stripe_fake):
    client.force_login(user)
    response = client.post("/billing/portal/")
    assert response.status_code == 302 and response["Location"] == "/billing/pricing/"
    assert "choose a plan first" in str(list(get_messages(response.wsgi_request))[0])
    assert not stripe_calls_made(stripe_fake)


def test_portal_redirects_to_stripe(client, user, stripe_fake, catalog):
    client.force_login(user)
    client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    response = client.post("/billing/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith(stripe_fake.url + "/p/session/")
    page = stripe_fake.page(response["Location"])
    assert page.status == 200


def test_get_customer_portal_url_takes_the_user(rf, user, stripe_fake, catalog):
    """The documented customer_portal view: get_customer_portal_url(request.user, return_url)."""
    create_checkout_session(
        user, catalog["pro"].stripe_price_id, "https://a.example", "https://b.example"
    )
    portal_url = get_customer_portal_url(user, "https://app.example/billing/subscription/")
    assert portal_url.startswith(stripe_fake.url)


def test_get_customer_portal_url_takes_a_customer_id(user, stripe_fake, catalog):
    """Basic mode's documented call, get_customer_portal_url(customer_id, return_url), works
    here too."""
    create_checkout_session(
        user, catalog["pro"].stripe_price_id, "https://a.example", "https://b.example"
    )
    customer_id = Customer.objects.get(subscriber=user).id
    portal_url = get_customer_portal_url(customer_id, "https://app.example/billing/subscription/")
    assert portal_url.startswith(stripe_fake.url)


def test_get_customer_portal_url_without_a_customer_raises(user):
    with pytest.raises(NoStripeCustomerError):
        get_customer_portal_url(user, "https://app.example/billing/subscription/")


def test_portal_without_a_key_explains_it(client, user, settings):
    factories.customer(user=user)
    settings.STRIPE_SECRET_KEY = ""
    client.force_login(user)
    response = client.post("/billing/portal/")
    assert response.status_code == 503
    assert NOT_CONFIGURED in response.content.decode()
