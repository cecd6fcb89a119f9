"""The Argilla dataset layout of each kind of review: fields, questions, metadata and vectors.

One layout per kind, so every push of that kind lands in a compatible dataset and the pull step
knows what to read back; what the data does not have is left out, so the reviewer sees no empty
filter or question. Judge tags (Magpie paper §4) get optional questions of their own, pre-filled
with the judge's labels, only when the rows carry those tags; their labels are the judge's
vocabulary. Metadata properties are declared for the columns the rows have. Texts are shown
verbatim (`use_markdown=False`): the reviewer sees the exact string that goes into training, and
HTML in a generated text stays inert text instead of being rendered. Optional fields: `reasoning`
after the answer (the thinking of a reasoning model, to read or skip), which the pull puts back,
and `flag`, above the texts, saying why an answer was flagged (a push with `include_flagged`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

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
FLAG_FIELD = "flag"  # optional field: why an answer was flagged (truncated, looping, ...)
OPTIONAL_FIELDS = (REASONING_FIELD, FLAG_FIELD)
TAG_QUESTION_NAMES = tuple(name for name, _ in TAG_QUESTIONS.values())

GUIDELINES = {
    "sft": "Rate the response (1-5), then accept or reject the pair. *Corrected response* starts as the model's "
           "response: edit it if it needs fixing; what it holds when you submit goes into the reviewed dataset. "
           "Correct the judge's tags of the instruction where they are wrong. A *Flag* above the texts says why "
           "the response was flagged (e.g. cut at the token limit).",
    "chat": "Rate the assistant's answers in the conversation (1-5), then accept or reject the conversation. "
            "*Corrected final answer* starts as the last assistant message: edit it if it needs fixing; what it "
            "holds when you submit goes into the reviewed dataset. Correct the judge's tags of the first user "
            "message where they are wrong.",
    "preference": "Pick the better response (the suggestion is the reward model's choice). *Corrected response* "
                  "starts as the reward model's choice: it replaces the response you pick if you edit it.",
}
QUALITY_TITLES = {
    "sft": "Response quality (1 = unusable, 5 = excellent)",
    "chat": "Quality of the assistant's answers (1 = unusable, 5 = excellent)",
}
CORRECTION = {
    "sft": ("Corrected response", "Starts as the model's response; edit it if it needs fixing."),
    "chat": ("Corrected final answer", "Starts as the last assistant message; edit it if it needs fixing."),
    "preference": ("Corrected response", "Starts as the reward model's choice; edit it to replace the response "
                                         "you picked."),
}

# metadata name -> type; the same for every kind so filters look alike everywhere. Names must differ
# from field and question names (Argilla), hence tag_* for the judge tags.
_COMMON_METADATA = {
    "model": "terms", "template": "terms", "run_id": "terms", "system_prompt_key": "terms", "language": "terms",
    "instruction_status": "terms", "response_status": "terms",
    "tag_quality": "terms", "tag_difficulty": "terms", "tag_task_category": "terms",
    "reward": "float", "reward_base": "float", "reward_difference": "float", "safety": "terms",
    "min_neighbor_distance": "float", "repeat_count": "integer",
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
# metadata that is a column of the pushed row, by the column's name (the pull puts them back); the
# others are derived by the push (lengths, turns, the run, the reward model's side)
ROW_COLUMNS = {"model": "model_name", "template": "template", "system_prompt_key": "system_prompt_key",
               "language": "language", "instruction_status": "instruction_status",
               "response_status": "response_status", "tag_quality": "quality", "tag_difficulty": "difficulty",
               "tag_task_category": "task_category", "reward": "reward", "reward_base": "reward_base",
               "reward_difference": "reward_difference", "safety": "safety",
               "min_neighbor_distance": "min_neighbor_distance", "repeat_count": "repeat_count",
               "chosen_score": "chosen_score", "rejected_score": "rejected_score", "margin": "margin"}


TAG_TITLES = {"instruction_quality": "Instruction quality (judge's tag)", "difficulty": "Difficulty (judge's tag)",
              "task_category": "Task category (judge's tag)"}


def _review_questions(rg, kind: str, tags: Optional[Iterable[str]] = None) -> list:
    if kind == "preference":
        questions = [
            rg.LabelQuestion(name="preference", title="Which response is better?", labels=PREFERENCE_LABELS),
            rg.RatingQuestion(name="quality", title="Quality of the better response (1 = unusable, 5 = excellent)",
                              values=[1, 2, 3, 4, 5], required=False),
        ]
    else:
        questions = [
            rg.RatingQuestion(name="quality", title=QUALITY_TITLES[kind], values=[1, 2, 3, 4, 5]),
            rg.LabelQuestion(name="verdict", title="Keep this example?", labels=VERDICT_LABELS),
        ]
    title, description = CORRECTION[kind]
    questions.append(rg.TextQuestion(name="corrected_response", title=title, required=False, use_markdown=False,
                                     description=description))
    wanted = set(TAG_QUESTION_NAMES if tags is None else tags)
    for name, labels in TAG_QUESTIONS.values():
        if name in wanted:
            questions.append(rg.LabelQuestion(name=name, title=TAG_TITLES[name], labels=labels, required=False))
    return questions


def _fields(rg, kind: str, reasoning: bool = False, flag: bool = False) -> list:
    thinking = [rg.TextField(name=REASONING_FIELD, title="Reasoning (the model's thinking before its answer)",
                             use_markdown=False, required=False)] if reasoning else []
    flagged = [rg.TextField(name=FLAG_FIELD, title="Flag", use_markdown=False, required=False)] if flag else []
    if kind == "sft":
        return [*flagged, rg.TextField(name="instruction", title="Instruction", use_markdown=False),
                rg.TextField(name="response", title="Response", use_markdown=False), *thinking]
    if kind == "chat":
        return [*flagged, rg.ChatField(name="messages", title="Conversation", use_markdown=False), *thinking]
    return [rg.ChatField(name="prompt", title="Prompt", use_markdown=False),
            rg.TextField(name="response_1", title="Response 1", use_markdown=False),
            rg.TextField(name="response_2", title="Response 2", use_markdown=False)]


def build_settings(kind: str, vector_dimensions: Optional[int] = None, reasoning: bool = False,
                   metadata: Optional[Iterable[str]] = None, tags: Optional[Iterable[str]] = None,
                   flag: bool = False) -> "rg.Settings":
    """The dataset settings for `kind`; a vector field when the rows carry embeddings, a reasoning
    field (sft and chat) when they carry reasoning, a flag field (sft and chat) for pushes of
    flagged answers. `metadata`: the metadata properties to declare (None: every one of the kind);
    `tags`: the judge-tag questions to ask (None: all three)."""
    import argilla as rg

    if kind not in KINDS:
        raise MagpieError(f"unknown review kind {kind!r}: use one of {', '.join(KINDS)}")
    if reasoning and kind == "preference":
        raise MagpieError("preference review datasets have no reasoning field; push the answers without it")
    if flag and kind == "preference":
        raise MagpieError("preference review datasets have no flag field")
    makers = {"terms": rg.TermsMetadataProperty, "float": rg.FloatMetadataProperty,
              "integer": rg.IntegerMetadataProperty}
    names = set(METADATA[kind] if metadata is None else metadata)
    properties = [makers[t](name=name, visible_for_annotators=name not in HIDDEN_METADATA)
                  for name, t in METADATA[kind].items() if name in names]
    vectors = [rg.VectorField(name=VECTOR_NAME, dimensions=vector_dimensions)] if vector_dimensions else []
    return rg.Settings(
        guidelines=GUIDELINES[kind], fields=_fields(rg, kind, reasoning, flag),
        questions=_review_questions(rg, kind, tags), metadata=properties, vectors=vectors,
        allow_extra_metadata=False,
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
    otherwise what differs, in a few words. Judge-tag questions and metadata properties may differ
    (the push leaves out suggestions and metadata the dataset has no place for); a metadata
    property both have must have one type."""
    w, e = signature(wanted), signature(existing)
    if w["fields"] != e["fields"]:
        return f"fields {[f[0] for f in e['fields']]} instead of {[f[0] for f in w['fields']]}"
    core = [{q for q in found["questions"] if q[0] not in TAG_QUESTION_NAMES} for found in (w, e)]
    if core[0] != core[1]:
        return f"questions differ ({', '.join(sorted({q[0] for q in core[0] ^ core[1]}))})"
    existing_tags = {q[0]: q for q in e["questions"] if q[0] in TAG_QUESTION_NAMES}
    for question in w["questions"]:
        if question[0] in existing_tags and existing_tags[question[0]] != question:
            return f"questions differ ({question[0]})"
    for name, kind in w["metadata"].items():
        if name in e["metadata"] and e["metadata"][name] != kind:
            return f"metadata property {name!r} is of another type"
    for name, dims in w["vectors"].items():
        if e["vectors"].get(name) != dims:
            got = e["vectors"].get(name)
            return f"vector {name!r} has {got} dimensions, the rows have {dims}" if got else \
                f"it has no vector {name!r} (it was created from rows without embeddings)"
    return None


def has_reasoning(settings: "rg.Settings") -> bool:
    return any(f.name == REASONING_FIELD for f in settings.fields)


def has_flag(settings: "rg.Settings") -> bool:
    return any(f.name == FLAG_FIELD for f in settings.fields)


def kind_of(settings: "rg.Settings") -> Optional[str]:
    """Which of our layouts a dataset has (None for a dataset this package did not create)."""
    names = {f.name for f in settings.fields} - set(OPTIONAL_FIELDS)
    for kind in KINDS:
        if names == {f.name for f in build_settings(kind).fields}:
            return kind
    return None
