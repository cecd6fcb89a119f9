"""Tests of human review in Argilla (a package, so names never clash with other test folders)."""
