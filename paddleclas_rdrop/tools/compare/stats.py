"""Paired differences over seeds with a 95 % Student t interval (the compare report and the benchmarks)."""

import math
import statistics


def paired_interval(differences, confidence=0.95):
    """(mean, half-width of the two-sided t interval, n) of paired `differences` (one per seed); None
    for fewer than 2. The interval is mean +- t(1 - (1 - confidence) / 2, n - 1) * sd / sqrt(n)."""
    from scipy import stats

    differences = list(differences)
    if len(differences) < 2:
        return None
    half = stats.t.ppf(1 - (1 - confidence) / 2, len(differences) - 1) * statistics.stdev(differences)
    return statistics.mean(differences), half / math.sqrt(len(differences)), len(differences)
