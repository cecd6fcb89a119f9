"""JSON-schema constrained output for the llama.cpp family: the schema becomes a GBNF grammar.

Callers give a JSON schema (`SamplingParams.json_schema`, a JSON string); each backend turns it
into what it takes (GBNF here, the schema itself for vLLM, SGLang and llama-server). Properties
keep the order they have in the schema (llama.cpp's converter sorts them by name otherwise)."""

from __future__ import annotations

import json
from functools import lru_cache


def _property_order(node, order: list[str]) -> list[str]:
    if isinstance(node, dict):
        for name in node.get("properties", {}):
            if name not in order:
                order.append(name)
        for value in node.values():
            _property_order(value, order)
    elif isinstance(node, list):
        for value in node:
            _property_order(value, order)
    return order


@lru_cache(maxsize=64)
def gbnf_for_schema(schema: str) -> str:
    """GBNF for a JSON schema given as JSON text (llama-cpp-python's converter)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(schema, _property_order(json.loads(schema), []))
