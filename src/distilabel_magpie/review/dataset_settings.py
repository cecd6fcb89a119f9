"""The Argilla dataset layout of each kind of review: fields, questions, metadata and vectors.

One fixed layout per kind, so every push of that kind lands in a compatible dataset and the pull
step knows what to read back. Judge tags (Magpie paper §4) get optional questions of their own so a
reviewer can correct them; their labels are the judge's vocabulary. Texts are shown verbatim
(`use_markdown=False`): the reviewer sees the exact string that goes into training, and HTML in a
generated text stays inert text instead of being rendered. Rows of reasoning models add an
optional `reasoning` field after the answer (the model's thinking, to read or skip), which the
pull puts back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from distilabel_magpie.errors import MagpieError

if TYPE_CHECKING:
    import argilla as rg

KINDS = ("sft", "chat", "preference")

INSTRUCTION_QUALITY = ["very poor", "poor", "average", "good", "excellent"]
DIFFICULTY = ["very easy", "easy", "medium", "hard", "very hard"]
TASK_CATEGORY = [
    "Information seeking", "Reasoning", "Planning", "Editing", "Coding & Debugging", "Math", "Role playing",
    "Data analysis", "Creative writing", "Advice seeking", "Brainstorming", "Others",
]
# judge tag column -> (question name, labels)
TAG_QUESTIONS = {
    "quality": ("instruction_quality", INSTRUCTION_QUALITY),
    "difficulty": ("difficulty", DIFFICULTY),
    "task_category": ("task_category", TASK_CATEGORY),
}
PREFERENCE_LABELS = {"response_1": "Response 1 is better", "response_2": "Response 2 is better",
                     "tie": "Tie (no clear winner)"}
VERDICT_LABELS = {"accept": "Accept", "reject": "Reject"}
VECTOR_NAME = "embedding"
REASONING_FIELD = "reasoning"  # optional field of sft and chat datasets

GUIDELINES = {
    "sft": "Rate the response, then accept or reject the pair. Rewrite the response in *Corrected response* "
           "if it needs fixing: the corrected text is what goes into the reviewed dataset. Optionally correct "
           "the judge's tags of the instruction.",
    "chat": "Rate the conversation, then accept or reject it. Rewrite the final assistant message in "
            "*Corrected response* if it needs fixing.",
    "preference": "Pick the better response (the suggestion is the reward model's choice). Optionally "
                  "rewrite the better response in *Corrected response*.",
}

# metadata name -> type; the same for every kind so filters look alike everywhere. Names must differ
# from field and question names (Argilla), hence tag_* for the judge tags.
_COMMON_METADATA = {
    "model": "terms", "template": "terms", "run_id": "terms", "system_prompt_key": "terms", "language": "terms",
    "instruction_status": "terms", "response_status": "terms",
    "tag_quality": "terms", "tag_difficulty": "terms", "tag_task_category": "terms",
    "reward": "float", "min_neighbor_distance": "float", "repeat_count": "integer",
    "instruction_length": "integer", "response_length": "integer",
}
METADATA = {
    "sft": dict(_COMMON_METADATA),
    "chat": {**_COMMON_METADATA, "turns": "integer"},
    "preference": {**_COMMON_METADATA, "chosen_score": "float", "rejected_score": "float", "margin": "float",
                   "num_generations": "integer", "reward_choice": "terms"},
}
# metadata an annotator should not see (it gives the reward model's pick away)
HIDDEN_METADATA = {"reward_choice"}


def _review_questions(rg, kind: str) -> list:
    if kind == "preference":
        questions = [
            rg.LabelQuestion(name="preference", title="Which response is better?", labels=PREFERENCE_LABELS),
            rg.RatingQuestion(name="quality", title="Quality of the better response (1 = unusable, 5 = excellent)",
                              values=[1, 2, 3, 4, 5], required=False),
        ]
    else:
        questions = [
            rg.RatingQuestion(name="quality", title="Response quality (1 = unusable, 5 = excellent)",
                              values=[1, 2, 3, 4, 5]),
            rg.LabelQuestion(name="verdict", title="Keep this example?", labels=VERDICT_LABELS),
        ]
    questions.append(rg.TextQuestion(
        name="corrected_response", title="Corrected response (optional)", required=False, use_markdown=False,
        description="Leave empty to keep the response as it is.",
    ))
    for name, labels in TAG_QUESTIONS.values():
        questions.append(rg.LabelQuestion(name=name, title=name.replace("_", " ").capitalize() + " (judge tag)",
                                          labels=labels, required=False))
    return questions


def _fields(rg, kind: str, reasoning: bool = False) -> list:
    thinking = [rg.TextField(name=REASONING_FIELD, title="Reasoning (the model's thinking before its answer)",
                             use_markdown=False, required=False)] if reasoning else []
    if kind == "sft":
        return [rg.TextField(name="instruction", title="Instruction", use_markdown=False),
                rg.TextField(name="response", title="Response", use_markdown=False), *thinking]
    if kind == "chat":
        return [rg.ChatField(name="messages", title="Conversation", use_markdown=False), *thinking]
    return [rg.ChatField(name="prompt", title="Prompt", use_markdown=False),
            rg.TextField(name="response_1", title="Response 1", use_markdown=False),
            rg.TextField(name="response_2", title="Response 2", use_markdown=False)]


def build_settings(kind: str, vector_dimensions: Optional[int] = None, reasoning: bool = False) -> "rg.Settings":
    """The dataset settings for `kind`; a vector field when the rows carry embeddings, a reasoning
    field (sft and chat) when they carry reasoning."""
    import argilla as rg

    if kind not in KINDS:
        raise MagpieError(f"unknown review kind {kind!r}: use one of {', '.join(KINDS)}")
    if reasoning and kind == "preference":
        raise MagpieError("preference review datasets have no reasoning field; push the answers without it")
    makers = {"terms": rg.TermsMetadataProperty, "float": rg.FloatMetadataProperty,
              "integer": rg.IntegerMetadataProperty}
    metadata = [makers[t](name=name, visible_for_annotators=name not in HIDDEN_METADATA)
                for name, t in METADATA[kind].items()]
    vectors = [rg.VectorField(name=VECTOR_NAME, dimensions=vector_dimensions)] if vector_dimensions else []
    return rg.Settings(
        guidelines=GUIDELINES[kind], fields=_fields(rg, kind, reasoning), questions=_review_questions(rg, kind),
        metadata=metadata, vectors=vectors, allow_extra_metadata=False,
    )


def signature(settings: "rg.Settings") -> dict:
    """What must match for records of one push to fit a dataset created by another."""

    def question_options(q) -> tuple:
        labels = getattr(q, "labels", None)
        values = getattr(q, "values", None)
        return tuple(labels or values or ())

    return {
        "fields": sorted((f.name, str(f.type)) for f in settings.fields),
        "questions": sorted((q.name, str(q.type), question_options(q)) for q in settings.questions),
        "metadata": {m.name: type(m).__name__ for m in settings.metadata},
        "vectors": {v.name: v.dimensions for v in settings.vectors},
    }


def settings_mismatch(wanted: "rg.Settings", existing: "rg.Settings") -> Optional[str]:
    """None when records built for `wanted` can be logged into a dataset with `existing` settings;
    otherwise what differs, in a few words."""
    w, e = signature(wanted), signature(existing)
    if w["fields"] != e["fields"]:
        return f"fields {[f[0] for f in e['fields']]} instead of {[f[0] for f in w['fields']]}"
    if w["questions"] != e["questions"]:
        diff = sorted({q[0] for q in set(w["questions"]) ^ set(e["questions"])})
        return f"questions differ ({', '.join(diff)})"
    for name, kind in w["metadata"].items():
        if e["metadata"].get(name) != kind:
            return f"metadata property {name!r} is missing or of another type"
    for name, dims in w["vectors"].items():
        if e["vectors"].get(name) != dims:
            got = e["vectors"].get(name)
            return f"vector {name!r} has {got} dimensions, the rows have {dims}" if got else \
                f"it has no vector {name!r} (it was created from rows without embeddings)"
    return None


def has_reasoning(settings: "rg.Settings") -> bool:
    return any(f.name == REASONING_FIELD for f in settings.fields)


def kind_of(settings: "rg.Settings") -> Optional[str]:
    """Which of our layouts a dataset has (None for a dataset this package did not create)."""
    names = {f.name for f in settings.fields} - {REASONING_FIELD}
    for kind in KINDS:
        if names == {f.name for f in build_settings(kind).fields}:
            return kind
    return None
