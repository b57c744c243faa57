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


FEW_SEEDS = 5  # below this many paired seeds, the t quantile makes the intervals wide


def half_width_in_sds(seeds, confidence=0.95):
    """The half-width of `paired_interval`'s interval over `seeds` differences, in standard deviations of the
    differences: t(1 - (1 - confidence) / 2, seeds - 1) / sqrt(seeds)."""
    from scipy import stats

    return stats.t.ppf(1 - (1 - confidence) / 2, seeds - 1) / math.sqrt(seeds)


def few_seeds_warning(seeds):
    """The `warning: ...` line for a comparison over `seeds` (at least 2) paired seeds, fewer than `FEW_SEEDS`;
    None from `FEW_SEEDS` on. Its figures are `half_width_in_sds` (Student's t with seeds - 1 degrees of
    freedom, the interval `paired_interval` gives)."""
    if seeds >= FEW_SEEDS:
        return None
    widths = ", ".join(f"{half_width_in_sds(n):.2f} with {n}" for n in (FEW_SEEDS, 10))
    return (
        f"warning: --seeds {seeds}: with so few paired seeds the 95 % intervals are wide: their half-width is "
        f"t({seeds - 1} df) x sd / sqrt({seeds}) = {half_width_in_sds(seeds):.2f} standard deviations of the "
        f"per-seed differences ({widths}), so only a large effect shows; give --seeds {FEW_SEEDS} or more"
    )
