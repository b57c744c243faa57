"""R-Drop on the backbones of the paddleclas wheel: the sweep's results (`benchmarks/results/backbones.jsonl`,
`docs/backbones.md`) cover every backbone with no traceback, and one backbone per family, the quickest, still
gives the outcome recorded for it (where its check is quick: `QUICK_SECONDS`); a backbone the wheel cannot
build is one line through the tools."""

import json
import os

import pytest
from backbone_step import check_backbone, quickest_per_family, wheel_backbones

from engine_runs import ENGINES, PROJECT, engine_param, overrides, refusals

RESULTS = os.path.join(PROJECT, "benchmarks", "results", "backbones.jsonl")
# A family whose quickest backbone took longer than this (seconds, in the sweep's record) to check is left to
# the sweep (`python benchmarks/backbones.py`), whose records the first test reads: 51 of the 81 families,
# 0.62-21 s each (159 s summed in the record); the suite checks the 30 at or below it (6.0 s summed).
QUICK_SECONDS = 0.6


def recorded():
    """`{name: record}`, the last record of each backbone in the sweep's results."""
    with open(RESULTS) as handle:
        return {record["name"]: record for record in map(json.loads, filter(str.strip, handle)) if record["name"]}


def test_the_sweep_covers_every_backbone_of_the_wheel_without_a_traceback():
    records = recorded()
    assert sorted(wheel_backbones()) == sorted(records)
    assert [name for name, record in records.items() if record["outcome"] == "traceback"] == []
    with open(os.path.join(PROJECT, "docs", "backbones.md")) as handle:
        table = handle.read()
    assert all(f"| {name} |" in table for name in records) and "traceback" not in table.split("| family |")[1]


@pytest.mark.parametrize(
    "name, outcome",
    [
        ("PPLCNet_x0_25", "trains"),  # its own dropout_prob 0.2 before the classifier
        ("DeiT_tiny_patch16_224", "trains with Arch.drop_path_rate=0.1"),  # ViT: rates of its own built at 0
        ("PPHGNet_tiny", "trains with Arch.dropout_prob=0.1"),
        ("ResNet18", "trains with RDrop.drop_path=0.1"),  # no dropout of its own, residual blocks drop path knows
        ("CSPDarkNet53", "trains with RDrop.head_dropout=0.2"),  # its drop_rate is stored, never read
    ],
)
def test_known_backbones_get_the_fix_that_fits_them(name, outcome):
    record = check_backbone(name)
    assert record["outcome"] == outcome and record["kl"] > 0


@pytest.mark.parametrize(
    "name", [name for name in quickest_per_family(recorded()) if recorded()[name]["seconds"] <= QUICK_SECONDS]
)
def test_a_familys_quickest_backbone_gives_its_recorded_outcome(name):
    expected = recorded()[name]
    record = check_backbone(name)
    assert (record["outcome"], record["size"], record["strategy"]) == (
        expected["outcome"],
        expected["size"],
        expected["strategy"],
    )
    if record["outcome"].startswith("trains"):
        assert record["kl"] > 0
    else:
        assert record["error"] == expected["error"]


@pytest.mark.parametrize("engine", [engine_param("standalone"), engine_param("paddleclas")])
def test_the_tools_name_what_a_backbone_cannot_be_built_with(engine, workdir):
    cases = [
        overrides(workdir, f"{engine}_{index}") + extra
        for index, extra in enumerate(
            (
                ["Arch.name=AdaFace_IR_18"],
                ["Arch.name=cae_base_patch16_224"],
                ["Arch.name=FasterNet_T0", "Arch.drop_path_rate=0.1"],
                ["Arch.name=HRNet_W60_C"],  # the wheel's table of weights has no entry for it
            )
        )
    ]
    errors = refusals("train", "rdrop_se_resnet.yaml", cases, cwd=workdir, env=ENGINES[engine])
    assert errors == [
        "error: Arch: cannot build 'AdaFace_IR_18': it takes no Arch.class_num, so it gives features, not the class "
        "logits R-Drop compares (PaddleClas trains it inside RecModel); use a classifier backbone",
        "error: Arch: cannot build 'cae_base_patch16_224': it needs the key Arch.enable_linear_eval",
        "error: Arch: cannot build 'FasterNet_T0': FasterNet_T0 sets Arch.drop_path_rate itself: remove "
        "Arch.drop_path_rate",
        "error: Arch: PaddleClas's code cannot build 'HRNet_W60_C' (KeyError: 'HRNet_W60_C')",
    ]
