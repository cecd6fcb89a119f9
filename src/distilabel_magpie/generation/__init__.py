"""Magpie generation steps (distilabel tasks)."""

from distilabel_magpie.generation.base_responder import MagpieBaseResponder
from distilabel_magpie.generation.multiturn import MagpieMultiTurn
from distilabel_magpie.generation.responder import MagpieResponder
from distilabel_magpie.generation.sampler import MagpieSampler
from distilabel_magpie.generation.sft import MagpieSFTGenerator

__all__ = ["MagpieSampler", "MagpieResponder", "MagpieBaseResponder", "MagpieSFTGenerator", "MagpieMultiTurn"]
