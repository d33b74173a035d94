"""Bad answers are refused with a message that says what to fix."""

from __future__ import annotations

import pytest
from copier import run_copy

from .conftest import ROOT, UNSUPPORTED


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported_answers_fail_validation(name, tmp_path):
    answers, message = UNSUPPORTED[name]
    with pytest.raises(ValueError, match=message):
        run_copy(
            str(ROOT),
            tmp_path / "out",
            data=answers,
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref="HEAD",
        )
    assert not (tmp_path / "out" / "manage.py").exists()


def test_every_question_has_help_and_a_default():
    import yaml

    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    questions = {k: v for k, v in config.items() if not k.startswith("_")}
    assert {
        "project_name",
        "project_slug",
        "project_description",
        "author_name",
        "author_email",
        "domain_name",
        "stripe_mode",
        "trial_period_days",
        "currency",
    } <= set(questions)
    for name, question in questions.items():
        assert question.get("help"), f"{name} has no help"
        assert "default" in question, f"{name} has no default"
    assert questions["stripe_mode"]["default"] == "basic"


#: Project names and the slugs derived from them (copier.yml's default for project_slug).
SLUGS = [
    ("My SaaS", "my_saas"),
    ("123 Go!", "p_123_go"),
    ("123 Go", "p_123_go"),
    ("Ünïcode App", "unicode_app"),
    ("Café Crème", "cafe_creme"),
    ("Łódź Straße Ærø", "lodz_strasse_aero"),
    ("İstanbul", "istanbul"),
    ("日本", "project"),
    ("  --  ", "project"),
]


def slug_of(name: str) -> tuple[str, str]:
    """The slug copier.yml derives from a project name, and its validator's message for it,
    rendered as Copier renders a default: a sandboxed Jinja with Copier's default filters."""
    import yaml
    from jinja2.sandbox import SandboxedEnvironment

    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    env = SandboxedEnvironment(
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"], **config["_envops"]
    )
    question = config["project_slug"]
    slug = env.from_string(question["default"]).render(project_name=name)
    return slug, env.from_string(question["validator"]).render(project_slug=slug)


@pytest.mark.parametrize(("name", "slug"), SLUGS)
def test_the_slug_is_derived_from_the_name(name, slug):
    assert slug_of(name) == (slug, "")  # a valid identifier: the validator says nothing


def test_copier_derives_the_slug_from_the_name(tmp_path):
    """The same default through a whole `copier copy` (the cases above render it alone)."""
    import yaml

    run_copy(
        str(ROOT),
        tmp_path,
        data={"project_name": "Ünïcode App"},
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",  # the working tree, not the latest release tag
    )
    answers = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "unicode_app"
