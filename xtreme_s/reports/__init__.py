"""What people read and publish from a run's results.json record: results.md and charts (`results_md`), the model
card and Hub upload (`model_card`), the overall XTREME-S score of several runs (`score`), and the leaderboard of
several runs with bootstrap intervals and paired significance (`compare`, `leaderboard`).

Reports read only the results record (`xtreme_s.results`), the registry and the plots; they import nothing of
the families, protocols, sources, encoders or runner (an import-linter contract in pyproject.toml checks it).
"""
