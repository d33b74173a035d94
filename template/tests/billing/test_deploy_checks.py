"""`manage.py check --deploy` warns about missing Stripe keys and a missing broker."""

from __future__ import annotations

from apps.billing.deploy_checks import check_stripe_deploy, check_task_queue_deploy
from apps.billing.stripe_api import WEBHOOK_SECRET_SETTING


def test_deploy_checks_want_the_secret_key_and_the_webhook_secret(settings):
    settings.STRIPE_SECRET_KEY = ""
    setattr(settings, WEBHOOK_SECRET_SETTING, "")
    messages = check_stripe_deploy()
    assert [message.id for message in messages] == ["billing.W001", "billing.W002"]
    assert WEBHOOK_SECRET_SETTING in messages[1].msg


def test_deploy_checks_pass_when_configured():
    assert check_stripe_deploy() == []


def test_the_deploy_check_wants_a_broker(settings):
    # The test settings run tasks in-process, as production would without CELERY_BROKER_URL.
    assert [message.id for message in check_task_queue_deploy()] == ["billing.W003"]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/1"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert check_task_queue_deploy() == []
