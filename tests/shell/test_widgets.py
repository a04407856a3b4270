"""The Python-rendered select writes what Django's select templates write, but for the
white space between tags, which a select ignores."""

import re

import pytest
from django import forms

from config.widgets import PythonRenderedSelect


def tags(html: str) -> str:
    return re.sub(r">\s+<", "><", str(html))


CHOICES = [
    ("", "Unassigned"),
    (1, 'Ann <b>"Bold"</b> & Co'),
    ("two", "Two"),
    ("Group <i>", [("g1", "In a group"), ("g2", "Also <em>")]),
]


@pytest.mark.parametrize("value", ["", 1, "1", "two", "g2", None, "missing"])
@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"id": "id_assignee", "required": True, "disabled": False, "data-x": 'say "hi" <x>'},
    ],
)
def test_the_markup_is_the_same_as_the_templates_make(value, attrs):
    expected = forms.Select(choices=CHOICES).render("assignee", value, attrs=attrs)
    rendered = PythonRenderedSelect(choices=CHOICES).render("assignee", value, attrs=attrs)
    assert tags(rendered) == tags(expected)


def test_a_bound_model_field_renders_the_same_through_the_form(agent, queue):
    class Templates(forms.Form):
        assignee = forms.ModelChoiceField(queryset=queue.members.all(), empty_label="Nobody")

    class Python(forms.Form):
        assignee = forms.ModelChoiceField(
            queryset=queue.members.all(), empty_label="Nobody", widget=PythonRenderedSelect
        )

    data = {"assignee": str(agent.pk)}
    assert tags(Python(data)["assignee"]) == tags(Templates(data)["assignee"])
    assert f'value="{agent.pk}" selected' in str(Python(data)["assignee"])
