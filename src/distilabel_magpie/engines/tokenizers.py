"""Local tokenizers that split text as our engines send prompts: special tokens parsed, none
added (the template decides the BOS). Used by the CLI and by the server engine when the server
cannot tokenize."""

from __future__ import annotations

from typing import Callable

from distilabel_magpie.errors import MagpieError


def tokenizer_for(source: str) -> Callable[[str], list[int]]:
    """A tokenize function from a `.gguf` file (its vocabulary only) or a tokenizer directory."""
    if source.endswith(".gguf"):
        import llama_cpp
        from llama_cpp._internals import LlamaModel
        from llama_cpp._logger import set_verbose

        set_verbose(False)
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        try:
            model = LlamaModel(path_model=source, params=params, verbose=False)
        except ValueError:
            raise MagpieError(f"llama.cpp could not read the vocabulary of {source}; is it a GGUF file?") from None
        return lambda text: model.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise MagpieError(f"cannot load a tokenizer from {source} ({' '.join(str(e).split())[:200]}); give a "
                          "tokenizer directory or a .gguf file") from None
    return lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]


def token_ids(source: str, text: str) -> list[int]:
    """Token ids of `text` with the tokenizer of `source` (see `tokenizer_for`)."""
    return tokenizer_for(source)(text)
