# Load the Celery app with Django, so `shared_task`s bind to it (Celery's Django set-up).
from .celery import app as celery_app

__all__ = ("celery_app",)
