"""The score of `predict.py --eval-list`: the predictions of the images of the Eval list against their true
labels."""


class Tally:
    """The `--eval-list` accuracy: top-1 over the images with a true label, or, multi-label, the share of the
    targets of 0 or 1 that the kept labels (MultiLabelThreshOutput's) match; single-label, also the per-class
    results (`per_class_lines`)."""

    def __init__(self, multilabel):
        self.multilabel, self.right, self.counted = multilabel, 0, 0
        self.truths, self.predicted, self.classes = [], [], 0

    def add(self, result, truth, classes=0):
        """Count `result` (the post-process's) against `truth`, of an export of `classes` classes."""
        if truth is None:
            return
        if not self.multilabel:
            self.right, self.counted = self.right + int(result["class_ids"][0] == truth), self.counted + 1
            self.truths.append(truth)
            self.predicted.append(result["class_ids"][0])
            self.classes = max(self.classes, classes)
            return
        kept = set(result["class_ids"])
        known = [(index, target) for index, target in enumerate(truth) if target in (0, 1)]
        self.right += sum(int((index in kept) == bool(target)) for index, target in known)
        self.counted += len(known)

    def line(self):
        share = f"{100 * self.right / self.counted:.1f} %"
        if self.multilabel:
            return f"label accuracy: {share} ({self.right} of {self.counted} targets of 0 or 1 matched)"
        return f"top-1 accuracy: {share} ({self.right} of {self.counted} images with a true label)"

    def per_class_lines(self, evaluated, names):
        """The per-class results (`per_class.per_class_lines`) of the single-label images counted, of the list
        `evaluated`, the classes named by `names` ({id: name}); [] multi-label."""
        from .per_class import per_class, per_class_lines

        if self.multilabel or not self.counted:
            return []
        result = per_class(self.truths, self.predicted, self.classes, names)
        return per_class_lines(result, f"{evaluated} ({self.counted} images with a true label)")
