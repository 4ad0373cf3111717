"""NAB v1.1 scoring: label windows, the scaled sigmoid, the threshold sweep and normalisation.

Pure (stdlib + numpy); the only file reading lives in :mod:`helpers.core.evaluation.nab.loader`.
"""
from helpers.core.evaluation.nab.scorer import (CorpusResult, FileScores, best_threshold, normalised,
                                     score_corpus)

__all__ = ["CorpusResult", "FileScores", "best_threshold", "normalised", "score_corpus"]
