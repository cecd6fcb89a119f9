"""Curation steps: near-duplicate detection, filter recipes, preference pairs, exports."""
