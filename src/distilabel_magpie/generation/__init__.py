"""Magpie generation steps (distilabel tasks)."""

from distilabel_magpie.generation.base_responder import MagpieBaseResponder
from distilabel_magpie.generation.multiturn import MagpieMultiTurn
from distilabel_magpie.generation.responder import MagpieResponder
from distilabel_magpie.generation.rows import FinalizeRows, RowIndices
from distilabel_magpie.generation.sampler import MagpieSampler, MagpieSamplerStep
from distilabel_magpie.generation.sft import MagpieSFTGenerator, MagpieSFTStep

__all__ = ["MagpieSampler", "MagpieSamplerStep", "MagpieResponder", "MagpieBaseResponder", "MagpieSFTGenerator",
           "MagpieSFTStep", "MagpieMultiTurn", "RowIndices", "FinalizeRows"]
