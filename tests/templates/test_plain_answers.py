"""Reasoning tags only for templates that reason: a plain model's answer is never split, so a
literal `</think>` in it stays in the answer (and `template` reports no reasoning markers)."""

import json

import pytest

from distilabel_magpie.cli import main
from distilabel_magpie.templates import get_preset

ANSWER = "Close the tag with </think> after <think>, like this: <think>x</think> done."


@pytest.mark.parametrize("name", ["smollm2", "qwen2.5", "llama3.1", "gemma2"])
def test_a_plain_template_never_splits_an_answer(name):
    t = get_preset(name)
    assert not t.reasons and not t.opens_reasoning
    split = t.split_answer(ANSWER)
    assert (split.reasoning, split.answer, split.problem) == (None, ANSWER, None)
    assert t.reasoning_info()["reasoning"]["format"] is None


@pytest.mark.parametrize("name,tags", [("qwq", ("<think>", "</think>")), ("smollm3", ("<think>", "</think>")),
                                       ("phi4-mini-reasoning", ("<think>", "</think>")),
                                       ("exaone-deep", ("<thought>", "</thought>"))])
def test_reasoning_templates_still_split(name, tags):
    t = get_preset(name)
    assert t.reasons and t.tags == tags
    info = t.reasoning_info()["reasoning"]
    assert (info["format"], info["open"], info["close"]) == ("tags", *tags)
    text = f"why{tags[1]}\n\nIt is 4." if t.opens_reasoning else f"{tags[0]}why{tags[1]}\n\nIt is 4."
    split = t.split_answer(text)
    assert (split.reasoning, split.answer) == ("why", "It is 4.")


def test_cli_reports_no_reasoning_markers_for_a_plain_model(capsys):
    assert main(["template", "smollm2"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["reasoning"]["format"] is None and "<think>" not in json.dumps(info)
