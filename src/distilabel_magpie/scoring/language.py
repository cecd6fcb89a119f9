"""Language tag on queries with lingua (offline, statistical; no model download)."""


from typing import TYPE_CHECKING, Any, List, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import Step, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.storage.columns import require_columns

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput


def build_detector(languages: Optional[list[str]] = None, low_accuracy: bool = False) -> Any:
    """A lingua detector for the given ISO 639-1 codes (all languages when None)."""
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        raise MagpieError("the language tagger needs lingua: pip install 'distilabel-magpie[curation]'") from None
    if languages:
        codes = []
        for code in languages:
            try:
                codes.append(getattr(IsoCode639_1, code.upper()))
            except AttributeError:
                raise MagpieError(f"unknown ISO 639-1 language code {code!r} (e.g. 'en', 'zh')") from None
        if len(codes) < 2:
            raise MagpieError("give at least two languages to choose between, or none for all")
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
    else:
        builder = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


class LanguageTagger(UsesRuntime, Step):
    """Tags each query with its language (ISO 639-1, upper case as in the Magpie datasets: "EN").

    Uses `lingua-language-detector`. Empty queries and text in no recognisable language (digits,
    symbols) get `None`.

    Attributes:
        column: the text to tag (default `instruction`).
        languages: ISO 639-1 codes to choose between (None: all 75 lingua languages).
        low_accuracy: lingua's faster, less accurate mode.

    Runtime parameters:
        - `languages`: ISO 639-1 codes to choose between.
        - `low_accuracy`: faster, less accurate detection.

    Input columns:
        - instruction (`str`): the text to tag (`column`).

    Output columns:
        - language (`str | None`): ISO 639-1 code in upper case.

    Categories:
        - filtering

    References:
        - [lingua-py](https://github.com/pemistahl/lingua-py)

    Citations:
        ```
        @misc{stahl-lingua-py,
            author={Peter M. Stahl},
            title={lingua-py: natural language detection for Python},
            howpublished={\\url{https://github.com/pemistahl/lingua-py}},
        }
        ```

    Examples:
        Tag queries:

        ```python
        from distilabel_magpie.scoring import LanguageTagger

        tagger = LanguageTagger()
        tagger.load()
        next(tagger.process([{"instruction": "¿Cómo se hace un huevo duro?"}]))[0]["language"]  # "ES"
        ```
    """

    column: str = "instruction"
    languages: Optional[RuntimeParameter[List[str]]] = Field(
        default=None, description="ISO 639-1 codes to choose between; None for all languages.")
    low_accuracy: RuntimeParameter[bool] = Field(default=False, description="Faster, less accurate detection.")

    _detector: Any = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        self._detector = build_detector(self.languages, self.low_accuracy)

    @property
    def inputs(self) -> "StepColumns":
        return [self.column]

    @property
    def outputs(self) -> "StepColumns":
        return ["language"]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        require_columns(inputs, [self.column], self.name)
        for row in inputs:
            text = row.get(self.column)
            found = self._detector.detect_language_of(text) if isinstance(text, str) and text.strip() else None
            row["language"] = found.iso_code_639_1.name if found is not None else None
        yield inputs
