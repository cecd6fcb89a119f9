"""Magpie generation steps (distilabel tasks)."""

from distilabel_magpie.generation.responder import MagpieResponder
from distilabel_magpie.generation.sampler import MagpieSampler

__all__ = ["MagpieSampler", "MagpieResponder"]
