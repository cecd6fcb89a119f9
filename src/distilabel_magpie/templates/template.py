"""`MagpieTemplate`: the exact prompt text Magpie sends, derived from a model's own chat template.

The rule: render the conversation followed by a user message holding a sentinel with the
model's chat template (no generation prompt) and cut before the sentinel. Everything else (the
assistant prefix, end-of-turn marker, stop strings, the template's default system turn) is
derived from a few more renders of sentinel conversations, so one mechanism serves every
family, presets included (a preset is an official chat template plus the official Magpie
choices: whether to keep the default system turn and which extra stop strings to add).

Keyword arguments of the template (`template_kwargs`, as in `apply_chat_template(**kwargs)`) and
the `thinking` mode of reasoning models (mapped to the template's own switch, see `templates/reasoning.py`)
take part in every rendering, so all derived pieces are those of that mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Optional, Sequence

from distilabel_magpie.errors import ChatTemplateError, MagpieError
from distilabel_magpie.templates import reasoning as R
from distilabel_magpie.templates.render import REASONING_FIELDS, render

# Sentinels survive `| trim` and never occur in real text.
_Q = "@@MAGPIE-SLOT@@"
_S1, _S2, _S3 = "@@MAGPIE-1@@", "@@MAGPIE-2@@", "@@MAGPIE-3@@"

# Special markers inside template text: <|im_end|>, <｜end▁of▁sentence｜>, <end_of_turn>, </s>, [INST],
# [|user|] (EXAONE).
_MARKER = re.compile(r"<\|[^<>|\s]+\|>|<｜[^｜]+｜>|</?[A-Za-z_][A-Za-z0-9_]*>|\[/?[A-Z_]+\]|\[\|[a-z_]+\|\]")
# Role names, which appear as text in some role headers ("<|im_start|>user", "User: ").
_ROLE_WORDS = re.compile(r"\b(?:system|user|assistant|developer)\b", re.IGNORECASE)

PAPER_FOLLOWUP_SYSTEM_PROMPT = (
    "You are a helpful AI assistant. The user will engage in a multi-round conversation with you, "
    "asking initial questions and following up with additional related questions. Your goal is to "
    "provide thorough, relevant and insightful responses to help the user with their queries."
)


def markers(text: str) -> list[str]:
    """The special markers (role headers, end-of-turn tokens) found in a piece of template text."""
    return _MARKER.findall(text)


def _cut(rendered: str, sentinel: str, what: str) -> str:
    count = rendered.count(sentinel)
    if count != 1:
        raise MagpieError(
            f"cannot find the {what} slot in the chat template (the message text appears {count} times "
            "in its rendering); this template cannot be used for Magpie: set the step's `template` to a preset "
            "(see `distilabel-magpie template --list`)"
        )
    return rendered[: rendered.index(sentinel)]


def _after(text: str, start: str, end: Optional[str] = None) -> str:
    i = text.index(start) + len(start)
    return text[i:] if end is None else text[i : text.index(end, i)]


def _common_prefix(a: str, b: str) -> str:
    """Longest common prefix of `a` and `b` that does not end inside a special marker."""
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    for text in (a, b):
        for m in _MARKER.finditer(text):
            if m.start() < k < m.end():
                k = m.start()
    return a[:k]


@dataclass(frozen=True)
class _Structure:
    user_prefix: str  # opens a user turn, e.g. "<|im_start|>user\n"
    user_end: str  # closes a user turn, e.g. "<|im_end|>\n"
    assistant_prefix: str  # the generation prompt, e.g. "<|im_start|>assistant\n"
    assistant_end: str  # closes an assistant turn
    default_preamble: str  # text before the first user turn when no system message is given
    bare_preamble: Optional[str]  # the same without the template's default system turn (None: it has to stay)


@dataclass(frozen=True)
class MagpieTemplate:
    """A chat template and the Magpie choices made for it.

    Attributes:
        name: preset name, or a description of where the template came from.
        chat_template: the Jinja chat template (as in `tokenizer_config.json` or GGUF metadata).
        bos_token / eos_token: the strings the template receives as `bos_token` / `eos_token`.
        default_system: keep the default system turn that some templates inject when no system
            message is given (Qwen2, Qwen2.5, SmolLM2, Llama-3.1/3.2, Granite). `False` renders
            the conversation without it.
        extra_stop: stop strings added to the derived ones (e.g. from the official Magpie configs).
        today: the date `strftime_now` returns for templates that print today's date.
        template_kwargs: keyword arguments of the chat template (`(name, value)` pairs), e.g.
            `reasoning_effort` for gpt-oss, passed as `apply_chat_template(**kwargs)` does.
        thinking: "on", "off" or None (the template's default): set through the template's own
            switch (`thinking_switch`); a template without one refuses "on" and "off".
        reasoning_tags: the tags around the reasoning when the template does not name them
            (Phi-4-mini-reasoning reasons in `<think>` without its template saying so).
    """

    name: str
    chat_template: str
    bos_token: Optional[str] = None
    eos_token: Optional[str] = None
    default_system: bool = True
    extra_stop: tuple[str, ...] = ()
    today: Optional[datetime] = None
    special_tokens: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    template_kwargs: tuple[tuple[str, object], ...] = ()
    thinking: Optional[str] = None
    reasoning_tags: Optional[tuple[str, str]] = None

    def __post_init__(self) -> None:
        R.check_mode(self.thinking)

    # -- rendering ------------------------------------------------------------------------
    def _render(self, messages: Sequence[dict], add_generation_prompt: bool = False, kwargs: Optional[dict] = None,
                bos_token: Optional[str] = None) -> str:
        return render(
            self.chat_template,
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token if bos_token is None else bos_token,
            eos_token=self.eos_token,
            today=self.today,
            special_tokens=dict(self.special_tokens),
            template_kwargs=self.render_kwargs if kwargs is None else kwargs,
        )

    def _raw(self, messages: Sequence[dict], add_generation_prompt: bool = False) -> str:
        return self._render([self._for_template(m) for m in messages], add_generation_prompt)

    @cached_property
    def render_kwargs(self) -> dict:
        """The keyword arguments every rendering gets: `template_kwargs` plus the thinking switch."""
        kwargs = dict(self.template_kwargs)
        if self.thinking is not None:
            switch = self.thinking_switch
            if switch is None:
                raise MagpieError(self._no_switch_message())
            if switch.name in kwargs and kwargs[switch.name] != switch.kwargs(self.thinking)[switch.name]:
                raise MagpieError(f"template {self.name!r}: thinking={self.thinking!r} contradicts "
                                  f"template_kwargs {switch.name}={kwargs[switch.name]!r}; give one of them")
            kwargs.update(switch.kwargs(self.thinking))
        return kwargs

    def _no_switch_message(self) -> str:
        others = R.reasoning_arguments(self.chat_template)
        hint = (f"; it reads {', '.join(others)}: set that with template_kwargs" if others
                else "; leave thinking unset (the template decides whether the model reasons)")
        return (f"template {self.name!r} has no thinking switch (no keyword argument of "
                f"{', '.join(R.SWITCH_NAMES)} changes its generation prompt), so thinking={self.thinking!r} "
                f"cannot be honoured{hint}")

    def render(self, messages: Sequence[dict], add_generation_prompt: bool = False) -> str:
        """The chat template applied to `messages`; without the default system turn when
        `default_system` is off and `messages` has no system message of its own. An assistant
        message's reasoning (`reasoning_content`) goes where the template reads it: in that
        field, or written in front of the content for templates that read no such field (they
        then keep it or strip it themselves, as they do with the model's own output)."""
        try:
            text = self._raw(messages, add_generation_prompt)
        except ChatTemplateError as e:
            raise MagpieError(f"template {self.name!r}: {e}") from None
        if self.default_system or (messages and messages[0].get("role") == "system"):
            return text
        s = self.structure
        if s.bare_preamble is None or not text.startswith(s.default_preamble):
            raise MagpieError(
                f"template {self.name!r}: cannot render without its default system turn (the template always "
                "writes its own system text); use default_system=True or give a system prompt"
            )
        return s.bare_preamble + text[len(s.default_preamble) :]

    def pre_query(self, system_prompt: Optional[str] = None, history: Sequence[dict] = ()) -> str:
        """The prompt that makes the model write the next user message: the conversation so far
        (optionally after a system prompt) rendered with the chat template, up to where the
        user's text would start."""
        messages = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
        messages += [dict(m) for m in history] + [{"role": "user", "content": _Q}]
        return _cut(self.render(messages), _Q, "user message")

    def response_prompt(self, messages: Sequence[dict]) -> str:
        """The prompt for the assistant's answer: `messages` with the generation prompt."""
        return self.render(messages, add_generation_prompt=True)

    # -- reasoning ------------------------------------------------------------------------
    def with_thinking(self, mode: Optional[str]) -> "MagpieTemplate":
        """This template in a thinking mode ("on", "off"; None keeps the template's default).
        Refuses "on"/"off" for a template without a switch."""
        template = replace(self, thinking=R.check_mode(mode))
        template.render_kwargs  # noqa: B018 -- raises now rather than at the first prompt
        return template

    @cached_property
    def thinking_switch(self) -> Optional[R.ThinkingSwitch]:
        """The keyword argument that switches this template's reasoning on and off, if any."""
        base = dict(self.template_kwargs)

        def prompt(extra: dict) -> str:
            try:
                return self._render([{"role": "user", "content": _Q}], True, {**base, **extra})
            except ChatTemplateError as e:
                raise MagpieError(f"template {self.name!r}: {e}") from None

        return R.find_switch(self.chat_template, prompt)

    @property
    def harmony(self) -> bool:
        """gpt-oss's channel format: answers are parsed by channel, not by tags."""
        return R.is_harmony(self.chat_template)

    @property
    def tags(self) -> tuple[str, str]:
        """The tags around the reasoning (`<think>`, `</think>` unless the template uses others)."""
        return tuple(self.reasoning_tags) if self.reasoning_tags else R.tags_of(self.chat_template)

    @cached_property
    def reasons(self) -> bool:
        """Whether answers may hold reasoning: harmony, reasoning tags named by the template (or
        by the preset's `reasoning_tags`) or a thinking switch. A plain model's answer is never split."""
        return (self.harmony or bool(self.reasoning_tags) or R.named_tags(self.chat_template) is not None
                or self.thinking_switch is not None)

    @property
    def opens_reasoning(self) -> bool:
        """The generation prompt ends inside an opened reasoning block (QwQ, R1, Qwen3-Thinking-2507)."""
        return self.reasons and not self.harmony and R.opens_reasoning(self.assistant_prefix, self.tags)

    def split_answer(self, text: str) -> R.Split:
        """An answer completion (the text after this template's generation prompt) split into
        reasoning and answer (a template that does not reason: the whole text is the answer)."""
        if self.harmony:
            return R.split_harmony(text)
        if not self.reasons:
            return R.Split(None, text.strip())
        return R.split_tagged(text, self.tags, self.opens_reasoning)

    @cached_property
    def reads_reasoning_field(self) -> bool:
        """Whether the template renders an assistant message's `reasoning_content` / `thinking`
        (Qwen3, gpt-oss) rather than only its content."""
        try:
            text = self._render([{"role": "user", "content": _S1},
                                 {"role": "assistant", "content": _S2, "reasoning_content": _S3}])
        except ChatTemplateError:
            return False
        return _S3 in text

    def _for_template(self, message: dict) -> dict:
        reasoning = next((message[k] for k in REASONING_FIELDS if message.get(k) is not None), None)
        if reasoning is None or message.get("role") != "assistant" or self.reads_reasoning_field:
            return message
        out = {k: v for k, v in message.items() if k not in REASONING_FIELDS}
        out["content"] = R.inline(reasoning, message.get("content") or "", self.tags)
        return out

    def reasoning_info(self) -> dict:
        """How reasoning is written and read with this template (printed by the CLI)."""
        switch = self.thinking_switch
        info: dict = {"thinking": self.thinking, "thinking_switch": switch.describe() if switch else None}
        if self.harmony:
            info["reasoning"] = {"format": "harmony", "reasoning_channel": "analysis", "answer_channel": "final"}
        elif not self.reasons:
            info["reasoning"] = {"format": None}  # not a reasoning template: answers are not split
        else:
            info["reasoning"] = {"format": "tags", "open": self.tags[0], "close": self.tags[1],
                                 "prompt_opens_reasoning": self.opens_reasoning}
        info["reasoning"]["history_field"] = "reasoning_content" if self.reads_reasoning_field else None
        return info

    # -- system prompts -------------------------------------------------------------------
    def system_prompt_notice(self, system_prompt: Optional[str]) -> Optional[str]:
        """What the template does to a system prompt besides printing it: a sentence when it adds
        text of its own around it (a fixed identity, dates, a reasoning mode, a separate turn),
        None when it prints it as given. A system prompt the template does not print as given
        (dropped, rewritten) is refused: it would not steer the model as asked."""
        if not system_prompt:
            return None
        text = self.pre_query(system_prompt)
        wanted = system_prompt.strip()
        if wanted not in text:
            flags = "; /think and /no_think are switches for it: use thinking" if re.search(r"/(no_)?think", wanted) else ""
            raise MagpieError(f"template {self.name!r} does not print this system prompt as given (it drops or "
                              f"rewrites it{flags}): {_abridge(wanted)}; change the system prompt or leave it out")
        outside = text.replace(wanted, " ", 1)
        for piece in (self.bos_token, self.structure.user_prefix):
            if piece:
                outside = outside.replace(piece, " ")
        words = _ROLE_WORDS.sub(" ", _MARKER.sub(" ", outside))
        own = " ".join(words.split())
        if not re.search(r"\w", own):
            return None
        return f"template {self.name!r} adds its own text to the system prompt: {_abridge(own)}"

    # -- derived structure ----------------------------------------------------------------
    @cached_property
    def structure(self) -> _Structure:
        def raw(msgs: list[dict], gen: bool = False) -> str:
            try:
                return self._raw(msgs, gen)
            except ChatTemplateError as e:
                raise MagpieError(f"template {self.name!r}: {e}") from None

        u1 = {"role": "user", "content": _S1}
        a2 = {"role": "assistant", "content": _S2}
        u3 = {"role": "user", "content": _S3}
        conversation = raw([u1, a2, u3])
        if any(conversation.count(s) != 1 for s in (_S1, _S2, _S3)):
            raise MagpieError(
                f"template {self.name!r}: a message does not appear exactly once in the rendered "
                "conversation, so its user slot cannot be found; set the step's `template` to a preset "
                "(see `distilabel-magpie template --list`)"
            )
        between_turns = _after(conversation, _S2, _S3)  # assistant end + user prefix
        assistant_end = _common_prefix(between_turns, _after(raw([u1, a2]), _S2))
        user_prefix = between_turns[len(assistant_end) :]
        after_user_gen = _after(raw([u1], gen=True), _S1)
        user_end = _common_prefix(after_user_gen, _after(raw([u1]), _S1))
        assistant_prefix = after_user_gen[len(user_end) :]

        default_preamble = _cut(raw([{"role": "user", "content": _Q}]), _Q, "user message")
        bare_preamble: Optional[str] = None
        if default_preamble.endswith(user_prefix):
            default_preamble = default_preamble[: len(default_preamble) - len(user_prefix)]
            # Only a BOS the template itself prints survives (SmolLM2's bos_token is <|im_start|>,
            # which its template never prints as a BOS): render once with a sentinel BOS to tell.
            marked = self._render([{"role": "user", "content": _Q}], bos_token=_S1)
            bare_preamble = (self.bos_token or "") if marked.startswith(_S1) else ""
            if default_preamble != bare_preamble and not self._replaceable(default_preamble, bare_preamble, user_prefix):
                bare_preamble = None
        return _Structure(user_prefix, user_end, assistant_prefix, assistant_end, default_preamble, bare_preamble)

    def _replaceable(self, default_preamble: str, bare: str, user_prefix: str) -> bool:
        """Whether the text before the first user turn is a system turn that only stands in for a
        missing system message (Qwen2.5, Llama-3.1: a system message takes its place), so that
        leaving it out still gives a turn structure of this template. Not so when the template
        writes its own system text around any system message (gpt-oss, Phi-4-mini-reasoning) or
        the user turn does not open on its own (EXAONE's newline between turns)."""
        if user_prefix != user_prefix.lstrip() or not default_preamble.startswith(bare):
            return False
        try:
            with_system = self._raw([{"role": "system", "content": _S1}, {"role": "user", "content": _Q}])
        except ChatTemplateError:
            return False
        if with_system.count(_S1) != 1 or _Q not in with_system:
            return False
        before = with_system[: with_system.index(_S1)]
        after = with_system[with_system.index(_S1) + len(_S1): with_system.index(_Q)]
        if not (before.startswith(bare) and after.endswith(user_prefix)):
            return False
        head, tail = before, after[: len(after) - len(user_prefix)]
        return (default_preamble.startswith(head) and default_preamble.endswith(tail)
                and len(default_preamble) >= len(head) + len(tail))

    @property
    def default_system_turn(self) -> str:
        """The text the template injects when no system message is given ('' when none)."""
        s = self.structure
        if s.bare_preamble is None:  # a system turn the template always writes
            bos = self.bos_token or ""
            return s.default_preamble[len(bos):] if bos and s.default_preamble.startswith(bos) else s.default_preamble
        return s.default_preamble[len(s.bare_preamble) :]

    @property
    def system_turn_forced(self) -> bool:
        """The template always writes a system turn of its own (it cannot be left out)."""
        return self.structure.bare_preamble is None

    @property
    def assistant_prefix(self) -> str:
        return self.structure.assistant_prefix

    @property
    def end_of_turn(self) -> str:
        """What closes a user turn (its first special marker, or its text when it has none)."""
        user_end = self.structure.user_end
        found = markers(user_end)
        return found[0] if found else user_end

    @property
    def stop(self) -> list[str]:
        """Stop strings common to queries and answers: the role and end-of-turn markers of the
        template, the EOS token and the preset's extra stops; never the reasoning tags (a
        generation prompt that opens `<think>` must not make `<think>` a stop)."""
        s = self.structure
        found: list[str] = []
        for piece in (s.user_end, s.assistant_prefix, s.assistant_end, s.user_prefix):
            found += markers(piece)
        found += [self.eos_token or "", *self.extra_stop]
        return _unique(t for t in found if t not in R.TAG_STRINGS and t not in self.tags)

    @property
    def query_stop(self) -> list[str]:
        """Stops while sampling a user query: also the plain-text assistant header ("Assistant:")."""
        plain = self.structure.assistant_prefix.strip()
        return _unique(self.stop + ([plain] if plain and not markers(plain) else []))

    @property
    def response_stop(self) -> list[str]:
        """Stops while answering: also the plain-text user header ("User:"). Harmony answers are
        several messages long, so they stop only at the end of generation, a tool call or a new
        user turn, never at a message's own end."""
        if self.harmony:
            return _unique([self.eos_token or "", *R.HARMONY_STOPS, self.structure.user_prefix, *self.extra_stop])
        plain = self.structure.user_prefix.strip()
        return _unique(self.stop + ([plain] if plain and not markers(plain) else []))

    @property
    def role_markers(self) -> list[str]:
        """Text that must never appear inside a message: any stop plus the role headers."""
        s = self.structure
        extra = [p.strip() for p in (s.user_prefix, s.assistant_prefix) if p.strip()]
        return _unique(self.query_stop + self.response_stop + extra)

    def with_options(self, **changes) -> "MagpieTemplate":
        return replace(self, **changes)

    def describe(self, system_prompt: Optional[str] = None) -> dict:
        """What the CLI prints: everything a user checks before a run."""
        return {
            "template": self.name,
            "default_system": self.default_system,
            "default_system_turn": self.default_system_turn,
            "system_prompt": system_prompt,
            "system_prompt_notice": self.system_prompt_notice(system_prompt),
            "template_kwargs": dict(self.template_kwargs),
            **self.reasoning_info(),
            "pre_query": self.pre_query(system_prompt),
            "assistant_prefix": self.assistant_prefix,
            "end_of_turn": self.end_of_turn,
            "stop": self.query_stop,
            "response_stop": self.response_stop,
            "response_prompt_example": self.response_prompt(
                ([{"role": "system", "content": system_prompt}] if system_prompt is not None else [])
                + [{"role": "user", "content": "Hi!"}]
            ),
        }


def _unique(items) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _abridge(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
