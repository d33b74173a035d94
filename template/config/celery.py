"""The project's Celery app, set up the way Celery documents for Django.

Settings come from Django's, under the CELERY_ prefix (config/settings/base.py); tasks are
found in each app's `tasks` module (and in modules that define `shared_task`s the app imports).
`celery -A config worker` and `celery -A config beat` run the worker and the scheduler
(`make worker`, `make beat`). With no CELERY_BROKER_URL, tasks run in-process instead.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
