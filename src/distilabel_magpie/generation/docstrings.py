"""Docstring sections that several steps share, written once and added by class decorators.

They are in distilabel's docstring format: `distilabel.utils.docstring.parse_google_docstring`
reads them for the component gallery, and a step's `Citations` go into the card of every dataset
it helps make (for a step without them, distilabel fetches a BibTeX entry for each arXiv
reference over the network at the end of a run).
"""

from __future__ import annotations

import re
import textwrap
from typing import Callable, Optional, TypeVar

C = TypeVar("C", bound=type)

# The Magpie paper (arXiv 2406.08464), as the dataset cards cite it.
MAGPIE_BIBTEX = """\
@misc{xu2024magpiealignmentdatasynthesis,
    title={Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing},
    author={Zhangchen Xu and Fengqing Jiang and Luyao Niu and Yuntian Deng and Radha Poovendran and Yejin Choi and Bill Yuchen Lin},
    year={2024},
    eprint={2406.08464},
    archivePrefix={arXiv},
    primaryClass={cs.CL},
    url={https://arxiv.org/abs/2406.08464},
}"""


def with_sections(sections: str, before: Optional[str] = None) -> Callable[[C], C]:
    """Class decorator: adds `sections` (`Name:` headers over items indented by four more spaces;
    any common indentation is removed) to the class docstring, at the docstring's own
    indentation: in front of its section `before` (e.g. "Categories") when it has one, else at
    the end."""

    def add(cls: C) -> C:
        doc = cls.__doc__ or ""
        body = doc.split("\n", 1)[1] if "\n" in doc else ""
        margin = " " * min((len(line) - len(line.lstrip(" ")) for line in body.splitlines() if line.strip()),
                           default=0)
        text = textwrap.indent(textwrap.dedent(sections).strip("\n"), margin)
        header = re.search(rf"^{margin}{re.escape(before)}:\s*$", doc, re.MULTILINE) if before else None
        if header:
            cls.__doc__ = f"{doc[:header.start()]}{text}\n\n{doc[header.start():]}"
        else:
            cls.__doc__ = f"{doc.rstrip()}\n\n{text}\n{margin}"
        return cls

    return add


#: Class decorator of the steps that implement (part of) the Magpie paper: adds its BibTeX entry
#: as the `Citations` section (each such step names the paper under `References` itself).
cites_magpie = with_sections("Citations:\n    ```\n" + textwrap.indent(MAGPIE_BIBTEX, "    ") + "\n    ```")
