"""scanner.report.jsontext: the same text as json.dumps(sort_keys=True, indent=2), for any JSON value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.report import jsontext

# Any text (lone surrogates, controls, astral characters), non-string keys and floats included: the writers'
# input is hostile AWS text, and the fallbacks must give json's own answer.
_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _TEXT
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(_TEXT, inner, max_size=4) | st.dictionaries(st.integers(), inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_VALUES, st.booleans())
def test_same_text_as_json(value: Any, ensure_ascii: bool) -> None:
    assert jsontext.dumps(value, ensure_ascii=ensure_ascii) == json.dumps(
        value, sort_keys=True, indent=2, ensure_ascii=ensure_ascii)


@pytest.mark.parametrize("value", [
    {}, [], {"a": {}}, {"b": [], "a": [[], {}]}, {"x": "line\nbreak \ud800 \U0001f600 \\ud800"},
    [{"nested": [{"deep": [1, 2.5, None, True, False]}]}], 1.0e300, -0.0, 2**70, {2: "int keys", 1: [{"a": 1}]}, {True: None, False: 1.5},
])
def test_edge_cases(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True)


def test_unserialisable_values_are_refused_as_json_refuses_them() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({"a": {1, 2}})
