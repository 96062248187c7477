"""Helpers for the rule-engine quality benchmark: tasks, the training loop, labels, scoring.

``benchmarks/rules_corpus.py`` trains the labelled corpus with these; ``rules_quality.py``
scores the rule engine on it. torch is imported only by ``tasks`` and ``trainer``.
"""
