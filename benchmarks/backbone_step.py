"""One R-Drop train step on a backbone of the `paddleclas` wheel, set up as a user first sets it up, and
what came of it: trains, or the plugin's one-line error and whether the fix it names trains.

`benchmarks/backbones.py` runs it on every backbone of the wheel and writes `docs/backbones.md`;
`tests/tools/test_backbones.py` runs it on one backbone per family, and the tests take their digits
tensors from `images`.
"""

import inspect
import re
import time
from collections import Counter

from paddleclas_rdrop.core.errors import ConfigError, first_line

SIZES = (32, 64, 224, 299)  # px tried in order; the size a backbone's name gives is tried after 64
ALPHA = 3.0  # RDropLoss weight (batchmean), the recipes' value
BATCH = 2  # images per step; the k passes make it k x BATCH rows


def wheel_backbones():
    """`{name: family}` for every backbone constructor of the wheel's `ppcls.arch.backbone` (a public
    function defined in one of its model modules), the family being that module's name
    (`resnet`, `vision_transformer`, ...)."""
    from paddleclas.ppcls.arch import backbone

    prefix = backbone.__name__ + "."
    return {
        name: item.__module__.rsplit(".", 1)[-1]
        for name, item in sorted(vars(backbone).items())
        if inspect.isfunction(item) and item.__module__.startswith(prefix) and not name.startswith("_")
        if name != "get_apis"
    }


def build(name, class_num=10, **arch):
    """`backbone.<name>(class_num=..., **arch)` of the wheel without pretrained weights (a download), in its
    own parameter-name scope (`adapter.models.build_backbone`); `ConfigError` when it cannot be built."""
    from paddleclas_rdrop.adapter.models import build_backbone

    return build_backbone(name, class_num=class_num, **arch)


def named_size(name):
    """The input side a backbone's name gives (`ViT_base_patch16_384` -> 384), or None."""
    sizes = [int(n) for n in re.findall(r"(?<![0-9])(\d{3})(?![0-9])", name) if 160 <= int(n) <= 640]
    return sizes[-1] if sizes else None


def sizes_to_try(name):
    """`SIZES` with the size `name` gives (`named_size`) after 64 px: the smallest first, for the cost."""
    named = named_size(name)
    return list(dict.fromkeys([*SIZES[:2], *([named] if named else []), *SIZES[2:]]))


def accepted_size(model, name):
    """The first input side of `sizes_to_try(name)` a one-image eval forward of `model` runs at, with finite
    logits. `ConfigError` with the model's own reason at each size when none does."""
    import paddle

    from paddleclas_rdrop.core.loss import logits_of

    reasons = []
    model.eval()
    for size in sizes_to_try(name):
        try:
            with paddle.no_grad():
                logits = logits_of(model(paddle.zeros([1, 3, size, size])))
            if bool(paddle.isfinite(logits).all()):
                return size
            reasons.append(f"{size} px: non-finite logits (a feature map shrinks to nothing)")
        except Exception as error:  # the model's own shape checks, which differ in every family
            reasons.append(f"{size} px: {first_line(error)}")
    raise ConfigError(f"{name}: no input size runs ({'; '.join(reasons)})")


def images(size, count=BATCH):
    """`count` of scikit-learn's digits at `size` px, normalised ``[count, 3, size, size]``, with labels
    ``[count, 1]`` int64."""
    import paddle

    from paddleclas_rdrop.tools.data.demo import digits_images

    pixels, labels = digits_images(size=size, count=count)
    x = (pixels.astype("float32") / 255.0 - 0.5) / 0.5
    return paddle.to_tensor(x.transpose(0, 3, 1, 2)), paddle.to_tensor(labels[:, None])


def train_until_kl(runner, batch, optimizer):
    """`rdrop_step` until the KL is above 0, at most `CHANCE_CALLS` steps (a small batch can draw no drop;
    a zero-initialised classifier gives equal logits until its first update). Returns the last KL."""
    from paddleclas_rdrop.core.runner import CHANCE_CALLS

    for _ in range(CHANCE_CALLS):
        kl = rdrop_step(runner, batch, optimizer)
        if kl > 0:
            break
    return kl


def sgd(model):
    """The optimizer of the steps: plain SGD, lr 0.01."""
    import paddle

    return paddle.optimizer.SGD(learning_rate=0.01, parameters=model.parameters())


def rdrop_step(runner, batch, optimizer):
    """One R-Drop training step of `runner` (an `RDrop`: k passes, mean CE + `ALPHA` x `RDropLoss`,
    backward, `optimizer` step) on `batch`. Returns the KL value; raises the plugin's `ConfigError`."""
    import paddle.nn.functional as F

    from paddleclas_rdrop.core.loss import RDropLoss, logits_of

    runner.model.train()
    x, labels = batch
    output = runner(x)
    kl = RDropLoss(passes=runner.passes)(output)["RDropLoss"]
    loss = F.cross_entropy(logits_of(output), runner.repeat_labels(labels)) + ALPHA * kl
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return float(kl)


def plain_step(model, batch, optimizer):
    """One one-pass training step (CE, backward, `optimizer` step) on `batch`: what R-Drop's step costs
    are compared with."""
    import paddle.nn.functional as F

    from paddleclas_rdrop.core.loss import logits_of

    model.train()
    x, labels = batch
    F.cross_entropy(logits_of(model(x)), labels).backward()
    optimizer.step()
    optimizer.clear_grad()


def randomness(model, runner):
    """Where the passes' randomness comes from, in words: the model's own stochastic layers by type
    (`Dropout x12, DropPath x12`), the plugin's drop path (blocks) and head dropout."""
    from paddleclas_rdrop.core.models import stochastic_layers, unwrap

    net = unwrap(model)
    layers = dict(net.named_sublayers())
    kinds = Counter(type(layers[name]).__name__ for name in stochastic_layers(net))
    parts = [f"own {kind} x{count}" for kind, count in sorted(kinds.items())]
    for hook in runner._hooks:
        if hasattr(hook, "rates"):
            parts.append(f"RDrop.drop_path on {len(hook.rates)} blocks")
    if runner.head_dropout > 0:
        parts.append("RDrop.head_dropout")
    return ", ".join(parts) or "none"


def check_backbone(name, seed=0):
    """One R-Drop step on the wheel's backbone `name` with the plugin's defaults (2 passes, strategy auto,
    no layer added), at the first size it accepts; when the passes come out identical, the first fix the
    error names (`randomness_fixes`) is applied and the step run again.

    Returns a dict: ``name``, ``size`` (px or None), ``outcome`` (``trains``, ``trains with <key>=<value>``,
    or ``error``), ``error`` (the plugin's message, or ""), ``strategy``, ``randomness``, ``kl``; when the
    fix was tried and failed too, ``fix`` (``<key>=<value>``) and ``fix_error``.
    Any exception other than the plugin's `ConfigError` propagates: that is a traceback a user would see.
    """
    import paddle

    from paddleclas_rdrop.adapter.models import builds_with, randomness_fixes
    from paddleclas_rdrop.adapter.runner import RDrop

    record = {"name": name, "size": None, "outcome": "error", "error": "", "strategy": "", "randomness": "", "kl": 0.0}
    try:
        paddle.seed(seed)
        model = build(name)
        record["size"] = size = accepted_size(model, name)
        batch = images(size)
        builds = builds_with({"name": name, "class_num": 10})
        try:
            runner = RDrop(model, builds_with=builds)
            kl = train_until_kl(runner, batch, sgd(model))
        except ConfigError as error:
            if "identical outputs" not in str(error):
                raise
            record["error"] = str(error)
            key, value = randomness_fixes(model, builds)[0]
            section, option = key.split(".", 1)
            record["fix"] = f"{key}={value}"
            paddle.seed(seed)
            try:
                if section == "Arch":
                    model = build(name, **{option: value})
                    runner = RDrop(model)
                else:
                    runner.remove()
                    runner = RDrop(model, **{option: value})
                kl = train_until_kl(runner, batch, sgd(model))
            except ConfigError as fix_error:
                record["fix_error"] = str(fix_error)
                return record
            record["outcome"] = f"trains with {key}={value}"
        else:
            record["outcome"] = "trains"
        record.update(strategy=runner.strategy, randomness=randomness(model, runner), kl=kl)
    except ConfigError as error:
        record["outcome"] = "error"
        record["error"] = str(error)
    return record


def step_cost(name, size, rdrop=None, arch=None, repeats=3):
    """The R-Drop step's time over a one-pass step's on `name` at `size` px (`rdrop`: `RDrop` arguments,
    `arch`: constructor arguments): the median of `repeats` ratios, each from one step of each,
    alternated after one warm-up step of each (`time.perf_counter`, on the threads Paddle was given)."""
    import statistics

    from paddleclas_rdrop.adapter.runner import RDrop

    model = build(name, **(arch or {}))
    batch, optimizer = images(size), sgd(model)
    plain_step(model, batch, optimizer)
    runner = RDrop(model, **(rdrop or {}))
    rdrop_step(runner, batch, optimizer)
    ratios = []
    for _ in range(repeats):
        start = time.perf_counter()
        plain_step(model, batch, optimizer)  # the hooks act in the R-Drop and the one-pass step alike
        middle = time.perf_counter()
        rdrop_step(runner, batch, optimizer)
        ratios.append((time.perf_counter() - middle) / (middle - start))
    return statistics.median(ratios)


def quickest_per_family(records):
    """The names, sorted, of the backbone of each family whose check took the least time, from the sweep's
    `{name: record}` (records with ``family`` and ``seconds``): the ones whose cost is timed; the suite
    re-checks those at or under `QUICK_SECONDS` (tests/tools/test_backbones.py)."""
    best = {}
    for record in records.values():
        family = record.get("family")
        if family and (family not in best or record["seconds"] < best[family]["seconds"]):
            best[family] = record
    return sorted(record["name"] for record in best.values())
