"""`-o` keys checked against the YAML before PaddleClas reads them: a typo at any depth gets the key it is close
to, an override that is no path into the config is one line, and the keys PaddleClas reads without a YAML entry
pass; the YAML's own keys close to a key the engines read are named in a warning."""

import glob
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.data.config_file import read_config
from paddleclas_rdrop.tools.run_config import read_checked
from paddleclas_rdrop.tools.typos import unread_keys

from engine_runs import ENGINES, PROJECT, TINY, engine_param, overrides, refusals

PADDLECLAS_CONFIGS = os.path.join(os.environ.get("PADDLECLAS_ROOT") or "/work/shared/PaddleClas", "ppcls", "configs")

RECIPE = os.path.join(PROJECT, "configs", "rdrop_se_resnet.yaml")
MUTUAL = os.path.join(PROJECT, "configs", "mutual_res2net_se_resnet.yaml")


@pytest.mark.parametrize(
    "config, override, message",
    [
        (RECIPE, "Global.epoch=3", "has no Global.epoch (did you mean `epochs`?)"),
        (RECIPE, "DataLoader.Train.sampler.batch_szie=8", "(did you mean `batch_size`?)"),
        (RECIPE, "Global.epochs=3=4", "give one key=value"),
        (RECIPE, "Global.epochs", "give one key=value"),
        (RECIPE, "Loss.Train.5.CELoss.weight=1", "Loss.Train is a list of 2 in"),
        (MUTUAL, "Optimizer.lr.learning_rate=0.1", "Optimizer is a list of 2 in"),
        (RECIPE, "RDorp=2", "has no RDorp (did you mean `RDrop`?)"),  # a top-level key
    ],
)
def test_a_typo_or_a_malformed_override_is_one_error(config, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        read_checked(config, [override])


@pytest.mark.parametrize(
    "override",
    [
        "Global.epochs=3",
        "Global.seed=0",  # read by PaddleClas, in no recipe
        "Global.keep_checkpoint_max=2",
        "Optimizer.clip_norm=1.0",
        "Optimizer.lr.warmup_epoch=2",
        "DataLoader.Train.loader.num_workers=0",
        "Arch.class_expand=1280",  # a backbone argument: Arch takes any name its class does
        "Loss.Train.1.RDropLoss.wieght=1.0",  # the R-Drop settings check names this one
        "NewSection.key=1",
        "NewTopLevel=1",
    ],
)
def test_keys_paddleclas_reads_without_a_yaml_entry_pass(override):
    read_checked(RECIPE, [override])


MALFORMED = {
    "=3": "-o =3: no key before '='",
    " =3": "-o  =3: no key before '='",
    "Global..epochs=3": "the key 'Global..epochs' has an empty part",
    ".Global.epochs=3": "the key '.Global.epochs' has an empty part",
    "Global.epochs.=3": "the key 'Global.epochs.' has an empty part",
    " Global.epochs=3": "-o ' Global.epochs=3': the key ' Global.epochs' has spaces in it: write -o Global.epochs=3",
    "Global. epochs=3": "has spaces in it: write -o Global.epochs=3",
    "Global.epochs\t=3": "has spaces in it: write -o Global.epochs=3",
    "Global.epochs.x=1": "-o Global.epochs.x: Global.epochs is the value 200, not a section, so it has no key x",
    "Global.image_shape.0.x=1": "Global.image_shape.0 is the value 3, not a section",
    "DataLoader.Trian.sampler.batch_size=8": "has no DataLoader.Trian (did you mean `Train`?)",
    "Optimzer.lr.learning_rate=5": "has no Optimzer (did you mean `Optimizer`?)",
    "DataLoader.Train.datset.name=X": "has no DataLoader.Train.datset (did you mean `dataset`?)",
    "Global.seeed=1": "has no Global.seeed (did you mean `seed`?)",  # close to a key of the schema's, not the YAML's
    "DataLoader.Train.dataset.transform_ops.1.RandCrpImage.size=16": "(did you mean `RandCropImage`?)",
}


@pytest.mark.parametrize("override", MALFORMED)
def test_an_override_that_is_no_path_into_the_config_is_one_error(override):
    with pytest.raises(ConfigError) as error:
        read_checked(RECIPE, [override])
    assert MALFORMED[override] in str(error.value) and "\n" not in str(error.value)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from(["Global", "epochs", "DataLoader", "Train", "x", "0"]), min_size=1, max_size=4),
    at=st.integers(0, 4),
    flaw=st.sampled_from(["", " ", "\t", "pad"]),
)
def test_a_key_with_an_empty_part_or_spaces_is_refused_whatever_the_path(parts, at, flaw):
    at = min(at, len(parts) - 1)
    parts = list(parts)
    parts[at] = f" {parts[at]} " if flaw == "pad" else flaw + (parts[at] if flaw else "")
    override = ".".join(parts) + "=1"
    with pytest.raises(ConfigError, match="empty part|no key before|spaces in it"):
        read_checked(RECIPE, [override])


def test_an_empty_section_has_no_key_to_set(tmp_path):
    path = tmp_path / "empty_ema.yaml"
    path.write_text("Global:\n  epochs: 2\nEMA:\n")
    with pytest.raises(ConfigError, match=r"-o EMA.decay: EMA is the value None, not a section.*-o EMA=\{'decay'"):
        read_checked(str(path), ["EMA.decay=0.9"])


def test_each_override_is_checked_against_the_config_the_ones_before_it_leave():
    read_checked(RECIPE, ["Global.epochs={'x': 1}", "Global.epochs.x=2"])  # a section now: raises nothing
    with pytest.raises(ConfigError, match="Global.epochs is the value 5, not a section"):
        read_checked(RECIPE, ["Global.epochs=5", "Global.epochs.x=2"])
    with pytest.raises(ConfigError, match=r"has no NewSection.batch_szie \(did you mean `batch_size`\?\)"):
        read_checked(RECIPE, ["NewSection={'batch_size': 1}", "NewSection.batch_szie=2"])


def test_a_new_key_nothing_known_reads_is_noted_and_a_known_one_is_not():
    warnings = []
    scale = "DataLoader.Train.dataset.transform_ops.1.RandCropImage.scale=[0.5,1.0]"  # an operator's argument
    read_checked(RECIPE, ["NewSection.key=1", "Global.seed=0", "Arch.class_expand=1280", scale], warnings)
    assert warnings == [
        f"-o NewSection.key: {RECIPE} has no NewSection, so it is added as a new key; the plugin knows no reader of "
        "it, so only a component that takes it by that name reads it"
    ]


def test_a_yaml_key_close_to_a_key_the_engines_read_is_named_in_a_warning(tmp_path):
    path = tmp_path / "typo.yaml"
    text = open(RECIPE, encoding="utf-8").read().replace("  epochs: 200\n", "  epochs: 200\n  Epochs: 1\n")
    path.write_text(text.replace("  save_interval: ", "  save_intreval: "))
    warnings = []
    read_checked(str(path), [], warnings)
    assert warnings == [
        f"{path}: Global.save_intreval is a key neither engine reads (did you mean `save_interval`?): the engines "
        "read Global.save_interval, so rename the key if it was meant as that one",
        f"{path}: Global.Epochs is a key neither engine reads (did you mean `epochs`?): the engines read "
        "Global.epochs, so rename the key if it was meant as that one",
    ]
    assert unread_keys(read_config(RECIPE), RECIPE) == []


# the shipped configs that hold a key close to one the engines read, which nothing reads: PaddleClas 1.x's
# OPTIMIZER (the kunlun quick starts), and Global.image_channel, the anchor of Arch.input_image_channel
UNREAD = {"OPTIMIZER": 4, "Global.image_channel": 3}


@pytest.mark.skipif(not os.path.isdir(PADDLECLAS_CONFIGS), reason=f"{PADDLECLAS_CONFIGS} is not on this machine")
def test_no_paddleclas_config_is_refused_and_only_keys_nothing_reads_are_named():
    paths = sorted(glob.glob(f"{PADDLECLAS_CONFIGS}/**/*.y*ml", recursive=True))
    assert len(paths) >= 498
    named = {}
    for path in paths:
        warnings = []
        read_checked(path, [], warnings)  # raises nothing
        for line in warnings:
            key = line.split(": ")[1].split(" ")[0]
            named[key] = named.get(key, 0) + 1
    assert named == UNREAD


@pytest.fixture(scope="module")
def refused(workdir):
    bad = os.path.join(str(workdir), "unread.yaml")
    with open(RECIPE, encoding="utf-8") as handle:
        text = handle.read().replace("        weight: 3.0 ", "        weight: .nan ")
    with open(bad, "w", encoding="utf-8") as handle:
        handle.write(text)
    cases = [["=x"], ["Global..epochs=3"], ["Global.epochs.x=1"], [" Global.epochs=3"], ["Optimzer.lr.learning_rate=5"]]
    cases += [["DataLoader.Trian.sampler.batch_size=8"], ["RDrop.alpha=1e999"]]
    outcomes = {}
    for engine in ("standalone", "paddleclas"):
        if ENGINES[engine]["PADDLECLAS_ROOT"] or engine == "standalone":
            runs = [overrides(workdir, f"typos_{engine}") + TINY + case for case in cases]
            outcomes[engine] = refusals("train", "rdrop_se_resnet.yaml", runs, cwd=workdir, env=ENGINES[engine])
            nan = refusals("train", bad, [overrides(workdir, f"typos_{engine}") + TINY], workdir, ENGINES[engine])
            outcomes[engine] += nan
    return outcomes


ERRORS = [
    "error: -o =x: no key before '='",
    "error: -o Global..epochs=3: the key 'Global..epochs' has an empty part",
    "error: -o Global.epochs.x: Global.epochs is the value 1, not a section",
    "error: -o ' Global.epochs=3': the key ' Global.epochs' has spaces in it",
    "error: -o Optimzer.lr.learning_rate: ",
    "error: -o DataLoader.Trian.sampler.batch_size: ",
    "error: RDrop.alpha must be a finite number, got inf",
    "error: Loss.Train.1.RDropLoss.weight must be a finite number, got nan",
]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_the_tools_refuse_them_in_one_line_before_anything_is_written(engine, refused, workdir):
    for outcome, words in zip(refused[engine], ERRORS):
        assert outcome.startswith(words) and "\n" not in outcome, (outcome, words)
    assert not (workdir / f"typos_{engine}").exists()
