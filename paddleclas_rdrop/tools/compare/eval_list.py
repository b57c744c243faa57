"""The list a comparison evaluates on (`--test-list`, or DataLoader.Eval's), checked at start-up against the
compared config with the checks `tools/eval.py` runs (`data.lists.read_list_file`: its lines, images and their
headers; the label range of `check_label_range`), before any run trains: a mistake there would show only after
the first run's training. The model's classes are the train list's, so a test list that does not fit them is
the list's mistake, and the fix named is the list's (`tools/csv_to_lists.py --label-list`), not Arch.class_num."""

from ...adapter.sections import section_of
from ...core.errors import ConfigError, DataError

FIX = (
    "number the test list by the train list's classes: tools/csv_to_lists.py --csv <test CSV> --label-list "
    "<the train lists' label_list.txt> writes it"
)


def list_form(multilabel):
    return "multi-label (path<TAB>0,1,0,... per line)" if multilabel else "single-label (path label per line)"


def check_evaluated_list(config, test_list=None, test_root=None):
    """`ConfigError` naming `--test-list` (or DataLoader.Eval's list) and the fix where the list the runs are
    evaluated on (`config`: an arm's evaluation config, `command.eval_config`) has a bad line, a missing or
    unreadable image, the other form than the config's (multi-label or not: Global.use_multilabel), or labels
    the model's `Arch.class_num` classes do not hold. Writes nothing."""
    from ..data.lists import check_label_range, dataset_lists, parse_list_file, read_list_file
    from ..data.multilabel_checks import check_positives

    class_num = section_of(config, "Arch").get("class_num", section_of(config, "Global").get("class_num"))
    for image_root, list_path, delimiter, multilabel in dataset_lists(config, ["Eval"]):
        key = f"--test-list {test_list}" if test_list else f"DataLoader.Eval.dataset.cls_label_path {list_path}"
        try:
            _, labels, numbers = read_list_file(image_root, list_path, delimiter, multilabel)
        except DataError as error:
            try:  # the list of the other form?
                parse_list_file(image_root, list_path, "\t" if not multilabel else " ", not multilabel)
            except DataError:
                other = False
            else:
                other = True
            if other:
                raise ConfigError(
                    f"{key} is a {list_form(not multilabel)} list but the compared recipe is "
                    f"{list_form(multilabel).split(' (')[0]} (Global.use_multilabel "
                    f"{'is set' if multilabel else 'is not set'}): give a {list_form(multilabel)} list"
                ) from None
            raise ConfigError(f"{key}: {error}") from None
        if multilabel:
            check_positives(key, labels)
        if not test_list:
            try:
                check_label_range(labels, class_num, list_path, numbers)
            except DataError as error:
                raise ConfigError(f"{key}: {error}") from None
            continue
        if class_num is None or not len(labels):
            continue
        if labels.ndim == 2 and labels.shape[1] != class_num:
            raise ConfigError(
                f"{key} has {labels.shape[1]} targets per line but the compared model has {class_num} labels "
                f"(Arch.class_num, the train list's): {FIX}"
            )
        if labels.ndim == 1 and (labels.min() < 0 or labels.max() >= class_num):
            raise ConfigError(
                f"{key} has labels from {labels.min()} to {labels.max()} but the compared model has {class_num} "
                f"classes, 0 to {class_num - 1} (Arch.class_num, the train list's): {FIX}"
            )
