from __future__ import annotations

import pytest

from promptops.llm.templating import (
    MAX_RENDERED_CHARS,
    PromptContent,
    TemplateError,
    check_template,
    render,
    used_variables,
    validate_template,
)


def test_used_variables_finds_names_in_expressions_and_blocks() -> None:
    t = "{{ a }} {% if b %}{{ c | upper }}{% endif %}{% for x in items %}{{ x }}{% endfor %}"
    assert used_variables(t) == {"a", "b", "c", "items"}


def test_validate_names_undeclared_and_unused() -> None:
    with pytest.raises(TemplateError) as e:
        validate_template("{{ a }} {{ b }}", {"a": "str"})
    assert e.value.names == ["b"] and e.value.field == "variables"
    with pytest.raises(TemplateError) as e:
        validate_template("{{ a }}", {"a": "str", "zzz": "str"})
    assert e.value.names == ["zzz"] and "declared but not used" in str(e.value)
    validate_template("{{ a }}", {"a": "str"}, system="{{ a }} only")


def test_system_variables_count() -> None:
    with pytest.raises(TemplateError):
        validate_template("{{ a }}", {"a": "str"}, system="{{ persona }}")
    validate_template("{{ a }}", {"a": "str", "persona": "str"}, system="{{ persona }}")


def test_syntax_error_reports_line() -> None:
    with pytest.raises(TemplateError) as e:
        validate_template("ok\n{{ a ", {"a": "str"})
    assert "line 2" in str(e.value)


def test_sandbox_refuses_attribute_escape() -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ x.__class__.__mro__[1].__subclasses__() }}", {"x": "a"})


def test_render_strict_undefined() -> None:
    with pytest.raises(TemplateError, match="missing"):
        render("{{ a }}{{ b }}", {"a": 1})


def test_render_messages_and_hash() -> None:
    c = PromptContent(body="Q: {{ q }}", system="Be brief.", variables={"q": "str"})
    assert c.render_messages({"q": "why?"}) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q: why?"},
    ]
    with pytest.raises(TemplateError, match="q"):
        c.render_messages({})
    same = PromptContent(body="Q: {{ q }}", system="Be brief.", variables={"q": "str"})
    other = PromptContent(
        body="Q: {{ q }}", system="Be brief.", variables={"q": "str"}, decoding={"temperature": 0}
    )
    assert c.content_hash() == same.content_hash() != other.content_hash()


def test_check_template_reports_every_problem_in_validate_order() -> None:
    check = check_template("{{ a }} {{ b }}", {"a": "str", "z": "str"}, system="{{ c }}")
    assert check.used == {"a", "b", "c"}
    assert [(p.field, p.names) for p in check.problems] == [
        ("variables", ["b", "c"]),
        ("variables", ["z"]),
    ]
    with pytest.raises(TemplateError) as e:
        validate_template("{{ a }} {{ b }}", {"a": "str", "z": "str"}, system="{{ c }}")
    assert str(e.value) == str(check.problems[0])
    broken = check_template("{{ a", {"a": "str"}, system="{% if %}")
    assert [p.field for p in broken.problems] == ["body", "system"] and broken.used == set()


@pytest.mark.parametrize(
    "template",
    [
        "{{ x + 1 }}",
        "{{ 1 / 0 }}",
        '{{ "%d" % x }}',
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ],
)
def test_a_failing_expression_is_a_template_error(template: str) -> None:
    with pytest.raises(TemplateError, match="failed on these values"):
        render(template, {"x": "a"})


@pytest.mark.parametrize(
    "template",
    [
        '{{ "a" * 10000000000 }}',
        "{{ 10000000000 * [1] }}",
        "{{ 2 ** 100000000 }}",
    ],
)
def test_the_sandbox_bounds_what_operators_allocate(template: str) -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render(template, {})
    assert render('{{ "ab" * 2 }} {{ 2 ** 10 }} {{ 3 * 4 }}', {}) == "abab 1024 12"


def test_rendered_text_is_bounded() -> None:
    loops = "{% for i in range(100000) %}{% for j in range(100) %}xxxx{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match=f"exceeds {MAX_RENDERED_CHARS}"):
        render(loops, {})
