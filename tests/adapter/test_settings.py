import copy

import pytest

from paddleclas_rdrop.adapter.settings import RDropSettings, check_rdrop_contract, parse_section
from paddleclas_rdrop.core.errors import ConfigError

GOOD = {
    "Global": {"train_mode": "rdrop"},
    "RDrop": {"passes": 2, "strategy": "auto", "head_dropout": 0.2, "head_layer": "out"},
    "Loss": {
        "Train": [
            {"CELoss": {"weight": 1.0, "epsilon": 0.1}},
            {"RDropLoss": {"weight": 0.6, "reduction": "batchmean"}},
        ],
        "Eval": [{"CELoss": {"weight": 1.0}}],
    },
}


def edited(edit):
    config = copy.deepcopy(GOOD)
    edit(config)
    return config


def test_the_documented_contract_passes_and_fills_defaults():
    settings = RDropSettings.from_config(GOOD)
    assert settings.rdrop and settings.alpha == 0.6 and settings.reduction == "batchmean"
    section = parse_section(GOOD["RDrop"])
    assert section.pop("alpha_warmup_epochs") == settings.alpha_warmup_epochs == 0
    assert section.pop("alpha") is None and not settings.alpha_from_section  # alpha from the entry's weight
    assert settings.runner_kwargs() == {**section, "drop_path": 0.0, "drop_path_stages": [1, 2, 3, 4]}
    assert parse_section({"passes": 3}) == {
        "passes": 3,
        "strategy": "auto",
        "head_dropout": 0.0,
        "head_layer": None,  # the model's last Linear layer
        "drop_path": 0.0,
        "drop_path_stages": [1, 2, 3, 4],
        "augment_per_pass": False,
        "alpha_warmup_epochs": 0,
        "alpha": None,
    }


def test_a_config_without_rdrop_is_left_alone():
    assert not RDropSettings.from_config({"Global": {}, "Loss": {"Train": [{"CELoss": {"weight": 1.0}}]}}).rdrop
    check_rdrop_contract({"Global": {}, "Loss": {"Train": [{"CELoss": {"weight": 1.0}}]}})


def test_a_baseline_may_keep_the_head_dropout_alone():
    check_rdrop_contract(
        {
            "Global": {},
            "RDrop": {"head_dropout": 0.2, "head_layer": "out"},
            "Loss": {"Train": [{"CELoss": {"weight": 1.0}}]},
        }
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["Loss"]["Train"].pop(1), "no RDropLoss entry"),
        (lambda c: c["Global"].pop("train_mode"), "set Global.train_mode: rdrop"),
        (lambda c: c["Loss"]["Train"].pop(0), "RDropLoss alone"),
        (lambda c: c["Loss"]["Train"][1]["RDropLoss"].update(weight=-0.6), "weight is alpha"),
        (lambda c: c["Loss"]["Train"][1]["RDropLoss"].pop("weight"), "weight is alpha"),
        (lambda c: c["Loss"]["Train"][1]["RDropLoss"].update(passes=3), "RDrop.passes"),
        (lambda c: (c["Global"].pop("train_mode"), c["Loss"]["Train"].pop(1)), "RDrop.passes is set"),
        (lambda c: c["Loss"]["Eval"].append({"RDropLoss": {"weight": 1.0}}), "Loss.Eval"),
        (lambda c: c["Loss"]["Train"].append({"RDropLoss": {"weight": 1.0}}), "more than one"),
    ],
)
def test_contract_breaks_are_named(edit, message):
    with pytest.raises(ConfigError, match=message):
        check_rdrop_contract(edited(edit))


def test_an_unknown_rdrop_key_is_named():
    with pytest.raises(ConfigError, match=r"RDrop.head_drop is not an R-Drop setting"):
        parse_section({"head_drop": 0.2})


def test_per_pass_views_and_the_warm_up_are_read_and_checked():
    config = edited(lambda c: c["RDrop"].update(augment_per_pass=True, alpha_warmup_epochs=5))
    settings = RDropSettings.from_config(config)
    assert settings.augment_per_pass and settings.alpha_warmup_epochs == 5 and settings.runs_k_passes
    assert settings.runner_kwargs()["augment_per_pass"] is True
    baseline = {
        "Global": {},
        "RDrop": {"augment_per_pass": True, "passes": 2, "head_dropout": 0.1},
        "Loss": {"Train": [{"CELoss": {"weight": 1.0}}]},
    }
    twin = RDropSettings.from_config(baseline)  # k views, CE only: passes is allowed here
    assert not twin.rdrop and twin.runs_k_passes and twin.passes == 2


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["RDrop"].update(augment_per_pass="yes"), "RDrop.augment_per_pass must be true or false"),
        (lambda c: c["RDrop"].update(alpha_warmup_epochs=-1), "RDrop.alpha_warmup_epochs must be a finite number"),
        (
            lambda c: (
                c["RDrop"].update(augment_per_pass=True),
                c.update(DataLoader={"Train": {"dataset": {"batch_transform_ops": [{"MixupOperator": {}}]}}}),
            ),
            "batch_transform_ops \\(Mixup/Cutmix\\) mixes whole batches",
        ),
        (
            lambda c: (
                c["Global"].pop("train_mode"),
                c["Loss"]["Train"].pop(1),
                c["RDrop"].pop("passes"),
                c["RDrop"].pop("strategy"),
                c["RDrop"].update(alpha_warmup_epochs=2),
            ),
            "RDrop.alpha_warmup_epochs is set but Global.train_mode is None",
        ),
    ],
)
def test_bad_per_pass_and_warm_up_settings_are_named(edit, message):
    with pytest.raises(ConfigError, match=message):
        RDropSettings.from_config(edited(edit))


@pytest.mark.parametrize(
    "use_multilabel, named, distribution",
    [
        (None, None, "softmax"),
        (False, "softmax", "softmax"),
        (True, None, "bernoulli"),
        (True, "bernoulli", "bernoulli"),
    ],
)
def test_the_kl_compares_the_distribution_of_the_task(use_multilabel, named, distribution):
    config = copy.deepcopy(GOOD)
    if use_multilabel is not None:
        config["Global"]["use_multilabel"] = use_multilabel
    if named is not None:
        config["Loss"]["Train"][1]["RDropLoss"]["distribution"] = named
    assert RDropSettings.from_config(config).distribution == distribution


@pytest.mark.parametrize("use_multilabel, named", [(True, "softmax"), (None, "bernoulli"), (True, "gaussian")])
def test_a_distribution_the_task_contradicts_is_one_line(use_multilabel, named):
    config = copy.deepcopy(GOOD)
    if use_multilabel is not None:
        config["Global"]["use_multilabel"] = use_multilabel
    config["Loss"]["Train"][1]["RDropLoss"]["distribution"] = named
    with pytest.raises(ConfigError, match=r"^Loss\.Train\.RDropLoss\.distribution") as error:
        RDropSettings.from_config(config)
    assert "\n" not in str(error.value)


def distilled(arch_name="DistillationModel", model_name="Student", **rdrop):
    config = copy.deepcopy(GOOD)
    config["Arch"] = {
        "name": arch_name,
        "freeze_params_list": [True, False],
        "models": [{"Teacher": {"name": "ResNet18"}}, {"Student": {"name": "MobileNetV1_x0_25"}}],
    }
    if model_name is not None:
        config["Loss"]["Train"][1]["RDropLoss"]["model_name"] = model_name
    config["RDrop"].update(rdrop)
    return config


def test_r_drop_on_a_distillation_model_regularises_the_network_it_names():
    assert RDropSettings.from_config(distilled()).model_name == "Student"


@pytest.mark.parametrize(
    "config, words",
    [
        (distilled(model_name=None), "has none: Arch is a DistillationModel of the networks ['Teacher', 'Student']"),
        (distilled(model_name="Teacher"), "set model_name: Student in the RDropLoss entry (Teacher is frozen)"),
        (distilled(augment_per_pass=True), "RDrop.augment_per_pass gives each pass its own view"),
        (distilled("AttentionModel"), "Arch.name: AttentionModel feeds each network's output to the next"),
        (edited(lambda c: c["Loss"]["Train"][1]["RDropLoss"].update(model_name="Student")), "remove model_name"),
    ],
)
def test_a_network_r_drop_cannot_regularise_alone_is_one_line(config, words):
    with pytest.raises(ConfigError) as error:
        RDropSettings.from_config(config)
    assert words in str(error.value) and "\n" not in str(error.value)


NOT_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("value", NOT_FINITE, ids=str)
@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c, v: c["RDrop"].update(alpha=v), "RDrop.alpha is the weight of the KL term and must be a finite"),
        (lambda c, v: c["RDrop"].update(alpha_warmup_epochs=v), "RDrop.alpha_warmup_epochs must be a finite number"),
        (lambda c, v: c["Loss"]["Train"][1]["RDropLoss"].update(weight=v), "RDropLoss.weight is alpha"),
        (lambda c, v: c["RDrop"].update(head_dropout=v), "RDrop.head_dropout must be a number in \\[0, 1\\)"),
        (lambda c, v: c["RDrop"].update(drop_path=v), "RDrop.drop_path must be a number in \\[0, 1\\)"),
    ],
)
def test_a_number_that_is_not_finite_is_named(edit, message, value):
    with pytest.raises(ConfigError, match=message):
        RDropSettings.from_config(edited(lambda config: edit(config, value)))
