"""`make run`'s serving process (`manage.py devserver`, runserver's autoreloader child)."""

from __future__ import annotations

import pytest
from django.utils import autoreload

from apps.core.management.commands import devserver


def test_the_serving_child_imports_urls_and_tag_libraries_before_runserver_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """runserver then imports them from two threads at once, which can fail inside allauth's
    import cycle (`devserver.import_before_serving`): they must be imported before it starts."""
    calls: list[str] = []
    monkeypatch.setenv(autoreload.DJANGO_AUTORELOAD_ENV, "true")
    monkeypatch.setattr(devserver, "import_before_serving", lambda: calls.append("imported"))
    monkeypatch.setattr(devserver, "call_command", lambda name, *args, **kwargs: calls.append(name))
    devserver.Command().handle(addrport="127.0.0.1:8000", migrate=False)
    assert calls == ["imported", "runserver"]


def test_importing_before_serving_loads_the_urlconf_and_every_tag_library() -> None:
    from django.conf import settings
    from django.template import engines
    from django.urls import get_resolver

    devserver.import_before_serving()
    assert get_resolver().urlconf_module.__name__ == settings.ROOT_URLCONF
    libraries = engines["django"].engine.template_libraries
    assert {"account", "billing_tags"} <= set(libraries)
