"""Whether a list's classes are balanced, the one rule the tools share: a list whose largest class holds more than
`RATIO` times the images of its smallest is imbalanced (`imbalance`). `csv_to_lists.py` warns of it with the
majority-class accuracy and the two keys that act on it (`imbalance_warning`; the keys are `imbalance`'s module's);
`tools/compare.py` then reads balanced accuracy for its verdict."""

from typing import Mapping, Optional

from .imbalance import LOSS, SAMPLER

RATIO = 1.5  # largest class / smallest class above which a list is imbalanced
SECTION = 'docs/reference.md, "Imbalanced classes"'


def imbalance(counts: Mapping) -> Optional[float]:
    """The largest class's images / the smallest's, of the classes with images in `counts` ({class: images});
    None unless it is above `RATIO` (a balanced list, or fewer than two classes)."""
    held = [count for count in counts.values() if count > 0]
    if len(held) < 2:
        return None
    ratio = max(held) / min(held)
    return ratio if ratio > RATIO else None


def imbalance_warning(counts: Mapping, names: Optional[Mapping] = None, what: str = "the CSV") -> Optional[str]:
    """The one warning line of an imbalanced `counts` ({class id: images} of `what`, its classes named by `names`,
    {id: name}), or None: the ratio, the majority-class accuracy, where the per-class results are printed and
    the two options (class-weighted cross-entropy, a class-balanced sampler)."""
    ratio = imbalance(counts)
    if ratio is None:
        return None
    named = lambda c: str(c) if str((names or {}).get(c, c)) == str(c) else f"{c} ({names[c]})"  # noqa: E731
    largest = max(counts, key=lambda c: (counts[c], -c))
    smallest = min((c for c in counts if counts[c] > 0), key=lambda c: (counts[c], c))
    majority = 100 * counts[largest] / sum(counts.values())
    return (
        f"warning: the classes of {what} are imbalanced: class {named(largest)} has {counts[largest]} images, "
        f"{ratio:.1f}x class {named(smallest)}'s {counts[smallest]}; a model that always answers {named(largest)} "
        f"scores {majority:.1f} % top-1 (the majority-class accuracy), so read each class's recall and the balanced "
        f"accuracy, which eval.py and predict.py --eval-list print. To train against it: the Loss.Train entry "
        f"{LOSS} (class-weighted cross-entropy) or DataLoader.Train.sampler.name={SAMPLER} ({SECTION})"
    )
