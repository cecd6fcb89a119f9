"""Curation steps: near-duplicate detection (semantic and lexical), benchmark decontamination, filter
recipes, preference pairs, exports."""

from distilabel_magpie.curation.base import DropCounter, RowFilter, StatusFilter
from distilabel_magpie.curation.decontaminate import Decontaminate
from distilabel_magpie.curation.dedup import NearDuplicates
from distilabel_magpie.curation.export import FormatSFT, load_rows, save_rows
from distilabel_magpie.curation.minhash import LexicalDuplicates
from distilabel_magpie.curation.preferences import PreferencePairs, SampleCandidates
from distilabel_magpie.curation.recipes import RECIPES, FilterRecipe

__all__ = ["DropCounter", "RowFilter", "StatusFilter", "NearDuplicates", "LexicalDuplicates", "Decontaminate",
           "FormatSFT", "load_rows", "save_rows", "PreferencePairs", "SampleCandidates", "RECIPES", "FilterRecipe"]
