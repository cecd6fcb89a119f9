"""Scoring steps: reward model, LLM judge tags, language and safety tags."""

from distilabel_magpie.scoring.judge import MagpieJudge
from distilabel_magpie.scoring.language import LanguageTagger
from distilabel_magpie.scoring.parsing import parse_llama_guard
from distilabel_magpie.scoring.reward import RewardModelLabeler, RewardScorer
from distilabel_magpie.scoring.safety import SafetyTagger

__all__ = ["MagpieJudge", "LanguageTagger", "RewardModelLabeler", "RewardScorer", "SafetyTagger",
           "parse_llama_guard"]
