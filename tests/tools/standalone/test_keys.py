"""The keys the standalone engine takes in a section are the schema's rows for that section (and for the
section's `name`), or a component's constructor arguments: a row added to the schema alone is taken, a key
without one is refused naming it."""

import pytest

from paddleclas_rdrop.adapter import schema
from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.standalone.keys import arguments, take


@pytest.fixture
def added_row():
    """Append a schema row for the test's duration."""
    added = []

    def add(key):
        schema.KEYS.append(key)
        added.append(key)

    yield add
    for key in added:
        schema.KEYS.remove(key)


def test_a_section_key_is_taken_once_it_has_a_schema_row(added_row):
    with pytest.raises(ConfigError, match=r"DataLoader.Eval.loader.timeout is not a key the standalone engine"):
        take({"timeout": 5}, "DataLoader.Eval.loader")
    added_row(schema.Key("DataLoader.*.loader.timeout", schema.whole(0, "0"), 0, optional=True))
    assert take({}, "DataLoader.Eval.loader") == {"num_workers": 0, "use_shared_memory": True, "timeout": 0}
    assert take({"timeout": 5}, "DataLoader.Train.loader")["timeout"] == 5


def test_a_required_row_is_required(added_row):
    take({"batch_size": 8}, "DataLoader.Train.sampler")
    added_row(schema.Key("DataLoader.*.sampler.quota", required=True, note="a test's row"))
    with pytest.raises(ConfigError, match=r"^DataLoader.Train.sampler.quota is required$"):
        take({"batch_size": 8}, "DataLoader.Train.sampler")
    with pytest.raises(
        ConfigError, match=r"^Optimizer.lr.learning_rate is required: set -o Optimizer.lr.learning_rate=0.1"
    ):
        take({"name": "Cosine"}, "Optimizer.lr")


@pytest.mark.parametrize(
    "path, value, message",
    [
        (["Optimizer", "regularizer"], "L2", "Optimizer.regularizer must be a section of keys"),
        (["DataLoader", "Eval", "loader"], 4, "DataLoader.Eval.loader must be a section of keys"),
        (["Optimizer"], "Momentum", "Optimizer must be a section of keys, or a list of one-key sections"),
        (["Optimizer", "lr"], "abc", "Optimizer.lr must be a number > 0 or a schedule's section"),
    ],
)
def test_a_value_where_a_section_belongs_is_one_line(path, value, message):
    with pytest.raises(ConfigError, match=rf"^{message}.*, got {value!r}: "):
        schema.check(path, value)
    schema.check(path, {"name": "L2"})  # a section passes


def test_a_key_of_one_schedule_is_refused_on_another():
    cosine = take({"name": "Cosine", "learning_rate": 0.1, "eta_min": 0.01}, "Optimizer.lr")
    assert cosine["eta_min"] == 0.01 and cosine["warmup_epoch"] == 0
    with pytest.raises(ConfigError, match=r"^Optimizer.lr.eta_min is read by Cosine, not Constant: remove it$"):
        take({"name": "Constant", "learning_rate": 0.1, "eta_min": 0.01}, "Optimizer.lr")


@pytest.mark.parametrize("path", ["Optimizer", "Optimizer.1.AdamW"])  # one optimizer, PaddleClas's list of them
def test_an_optimizer_takes_its_own_keys_and_not_its_schedules(path):
    adamw = take({"name": "AdamW", "lr": 0.1}, path)
    assert adamw["weight_decay"] == 0.01 and adamw["beta1"] == 0.9 and "momentum" not in adamw
    assert "warmup_epoch" not in adamw  # a key of the `lr` section below it
    momentum = take({"name": "Momentum", "lr": 0.1}, path)
    assert momentum["momentum"] == 0.9 and "weight_decay" not in momentum
    with pytest.raises(ConfigError, match=rf"^{path}.beta1 is read by Adam and AdamW, not Momentum: remove it$"):
        take({"name": "Momentum", "lr": 0.1, "beta1": 0.9}, path)
    lr = take({"name": "Cosine", "learning_rate": 0.1}, f"{path}.lr")
    assert "momentum" not in lr and lr["by_epoch"] is False


def test_a_components_keys_are_its_constructors_arguments():
    class Loss:
        def __init__(self, class_num, epsilon=0.1, reduction="mean", **kwargs):
            pass

    assert arguments(Loss, ("class_num",)) == ({"epsilon": 0.1, "reduction": "mean"}, [])
    assert arguments(Loss) == ({"epsilon": 0.1, "reduction": "mean"}, ["class_num"])
    with pytest.raises(ConfigError, match=r"Loss.Train.Loss.epsilom is not a key .*did you mean `epsilon`"):
        take({"epsilom": 0.2}, "Loss.Train.Loss", arguments(Loss, ("class_num",)))


def test_a_resume_names_the_schedule_keys_of_the_schema(added_row):
    names = schema.schedule_names()
    assert names["batch_size"] == "DataLoader.Train.sampler.batch_size" and names["epochs"] == "Global.epochs"
    assert names["learning_rate"] == "Optimizer.lr.learning_rate" and names["steps_per_epoch"] == "the steps per epoch"
    added_row(schema.Key("DataLoader.*.sampler.quota", None, 0, note="a test's row", schedule="quota"))
    assert schema.schedule_names()["quota"] == "DataLoader.Train.sampler.quota"
