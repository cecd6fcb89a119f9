"""What each OpenAI-compatible completion server takes beyond the OpenAI fields, from its docs
and source (checked against vLLM's `CompletionRequest`, SGLang's `CompletionRequest`,
llama.cpp's `tools/server/README.md`, llama-cpp-python's `CreateCompletionRequest` and TGI's
`router/src/lib.rs`).

- Prompt as token ids (`token_prompts`): vLLM, SGLang and llama-server take a list of ids and
  add nothing to it; llama-cpp-python's server and TGI take strings only and add the model's
  BOS (when its tokenizer asks for one), so the engine strips a BOS already in the text.
- `n` (`takes_n`): vLLM and SGLang return `n` choices sharing one prefill; llama-cpp-python
  returns one choice whatever `n` is, llama-server refuses `n > 1`, TGI has no `n`: the engine
  sends `n` requests instead.
- Sampling fields: every server gets explicit values (llama-cpp-python defaults to top_k=40,
  min_p=0.05, repeat_penalty=1.1, which would silently change the sampling).
- Stops on special tokens (`<|im_start|>`, `<|start_header_id|>`, `<start_of_turn>`): servers
  render special tokens as empty text unless told otherwise, so such a stop string never
  matches. vLLM and SGLang get `skip_special_tokens: false` and `stop_token_ids`; llama-server
  gets the stops as `preserved_tokens` (its special tokens then come out as text and the stop
  strings match); llama-cpp-python and TGI offer neither, and the role header the model runs
  into is caught in the text afterwards (`generation.cleaning`).
- Token counts and ids come with the completion (`usage`, vLLM/SGLang `token_ids`, llama-server's
  per-token `logprobs` ids when the repetition check needs them): no extra request per sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from distilabel_magpie.engines.base import SamplingParams


@dataclass(frozen=True)
class Dialect:
    name: str
    token_prompts: bool  # the prompt may be a list of token ids (no BOS added)
    takes_n: bool  # returns n choices for one request
    top_k_off: Optional[int]  # value meaning "no top-k" (None: field not supported)
    min_p: bool
    penalty: Optional[str]  # name of the repetition-penalty field
    stop_token_ids: bool
    schema: Optional[str]  # how a JSON schema is sent: response_format, json_schema, json_schema_text, gbnf
    tokenize: Optional[str]  # tokenize endpoint style (see ServerTokenizer)
    top_p_one: bool = True  # accepts top_p == 1.0 (TGI wants top_p < 1)


VLLM = Dialect("vllm", True, True, -1, True, "repetition_penalty", True, "response_format", "vllm")
SGLANG = Dialect("sglang", True, True, -1, True, "repetition_penalty", True, "json_schema_text", "vllm")
LLAMA_SERVER = Dialect("llama.cpp", True, False, 0, True, "repeat_penalty", False, "json_schema", "llama.cpp")
LLAMA_CPP_PYTHON = Dialect("llama-cpp-python", False, False, 0, True, "repeat_penalty", False, "gbnf",
                           "llama-cpp-python")
TGI = Dialect("tgi", False, False, None, False, "repetition_penalty", False, None, "tgi", top_p_one=False)
OPENAI = Dialect("openai", False, False, None, False, None, False, None, None)

DIALECTS = {d.name: d for d in (VLLM, SGLANG, LLAMA_SERVER, LLAMA_CPP_PYTHON, TGI, OPENAI)}

# The server option that sets the context of one sequence, for error messages
CONTEXT_OPTIONS = {"vllm": "--max-model-len", "sglang": "--context-length",
                   "llama.cpp": "--ctx-size (shared by its --parallel slots)", "llama-cpp-python": "--n_ctx",
                   "tgi": "--max-total-tokens"}

# `owned_by` of /v1/models entries, where it names the server
OWNERS = {"vllm": VLLM, "sglang": SGLANG, "llamacpp": LLAMA_SERVER, "me": LLAMA_CPP_PYTHON}


def unsupported(d: Dialect, params: SamplingParams) -> list[str]:
    """The settings of `params` this server would ignore."""
    missing = []
    if params.top_k > 0 and d.top_k_off is None:
        missing.append(f"top_k={params.top_k}")
    if params.min_p > 0 and not d.min_p:
        missing.append(f"min_p={params.min_p}")
    if params.repetition_penalty != 1.0 and d.penalty is None:
        missing.append(f"repetition_penalty={params.repetition_penalty}")
    return missing


def request_body(d: Dialect, prompt: Any, params: SamplingParams, *, model: Optional[str], n: int, seed: int,
                 stop: list[str], stop_token_ids: list[int], json_schema: Optional[str],
                 grammar: Optional[str]) -> dict:
    """The /v1/completions body for one request of `n` samples."""
    body: dict[str, Any] = {"prompt": prompt, "max_tokens": params.max_new_tokens,
                            "temperature": max(params.temperature, 0.0), "seed": seed}
    if model:
        body["model"] = model
    if params.top_p < 1.0 or d.top_p_one:
        body["top_p"] = params.top_p
    if stop:
        body["stop"] = stop
    if d.takes_n:
        body["n"] = n
    if d.top_k_off is not None:
        body["top_k"] = params.top_k if params.top_k > 0 else d.top_k_off
    if d.min_p:
        body["min_p"] = params.min_p
    if d.penalty is not None:
        body[d.penalty] = params.repetition_penalty
    if d.stop_token_ids and stop_token_ids:
        body["stop_token_ids"] = stop_token_ids
    if d in (VLLM, SGLANG):
        # Special tokens stay in the text, so stop strings such as <|im_start|> match.
        body["skip_special_tokens"] = False
        body["return_token_ids"] = True
    if d is VLLM:
        body["spaces_between_special_tokens"] = False
        if params.repetition_ngram > 0:  # newer vLLM ends a looping sample itself (older ones ignore it)
            body["repetition_detection"] = {"min_pattern_size": params.repetition_ngram,
                                            "max_pattern_size": 4 * params.repetition_ngram, "min_count": 3}
    if d is LLAMA_SERVER:
        body["repeat_last_n"] = 64  # the window of our llama.cpp engine
        if stop:  # single-token stops come out as text (else rendered empty) so the stop strings match
            body["preserved_tokens"] = stop
        if params.repetition_ngram > 0:  # the ids of the generated tokens, for the repetition check
            body["n_probs"] = 1
    if json_schema is not None:
        if d.schema == "response_format":
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "output", "schema": json.loads(json_schema)}}
        elif d.schema == "json_schema":
            body["json_schema"] = json.loads(json_schema)
        elif d.schema == "json_schema_text":
            body["json_schema"] = json_schema
        elif d.schema == "gbnf":
            body["grammar"] = grammar
    elif params.grammar is not None and d.schema in ("json_schema", "gbnf"):  # llama.cpp servers take GBNF
        body["grammar"] = params.grammar
    return body


FINISH = {"stop": "stop", "eos_token": "stop", "stop_sequence": "stop", "length": "length",
          "repetition": "repetition"}


def choice_token_ids(choice: dict) -> list[int]:
    """The generated token ids a choice carries: vLLM/SGLang `token_ids`, or llama-server's
    per-token `logprobs.content[].id`."""
    ids = choice.get("token_ids")
    if not ids:
        content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        ids = [t.get("id") for t in content or [] if isinstance(t, dict)]
    return [int(t) for t in ids or [] if isinstance(t, int) or (isinstance(t, str) and t.isdigit())]


def finish_reason(choice: dict) -> str:
    """Our status for a choice's finish reason."""
    if choice.get("stop_reason") == "repetition_detected":  # vLLM's repetition detection
        return "repetition"
    return FINISH.get(choice.get("finish_reason") or "", "error")
