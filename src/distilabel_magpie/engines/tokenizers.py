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
    from pathlib import Path

    folder = Path(source).parent if Path(source).is_file() else Path(source)
    if not folder.is_dir():
        raise MagpieError(f"cannot load a tokenizer from {source}: it is neither a .gguf file nor a tokenizer "
                          "directory")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:  # noqa: BLE001 - transformers raises many kinds for a folder without a tokenizer
        raise MagpieError(f"cannot load a tokenizer from {folder} ({type(e).__name__}); it needs the tokenizer "
                          "files (tokenizer.json or tokenizer.model), not only tokenizer_config.json") from None
    return lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]


def token_ids(source: str, text: str) -> list[int]:
    """Token ids of `text` with the tokenizer of `source` (see `tokenizer_for`)."""
    return tokenizer_for(source)(text)
