"""The YAML contract of mutual learning, on a plain config dict: `Arch: MutualModel`, its losses
and metric come together, and every network they name exists."""
from ..host.config import check_kl_entry
from ..errors import ConfigError, RDropConfigError

MUTUAL_MODEL = "MutualModel"
MUTUAL_LOSSES = ("DistillationGTCELoss", "MutualKLLoss")  # the Loss.Train entries that read networks


def check_mutual_contract(config):
    """`Arch: MutualModel` (deep mutual learning) and its losses and metric come together, and
    every network a loss or metric names exists."""
    arch = config.get("Arch") or {}
    mutual = arch.get("name") == MUTUAL_MODEL
    train = (config.get("Loss") or {}).get("Train") or []
    names = [name for entry in train for name in entry]
    metrics = [name for entry in ((config.get("Metric") or {}).get("Train") or []) for name in entry]
    eval_names = [name for entry in ((config.get("Loss") or {}).get("Eval") or []) for name in entry] + \
        [name for entry in ((config.get("Metric") or {}).get("Eval") or []) for name in entry]
    misplaced = sorted(set(eval_names) & {*MUTUAL_LOSSES, "MutualTopkAcc"})
    if misplaced:
        raise ConfigError(f"{misplaced[0]} is in Loss.Eval or Metric.Eval, but evaluation sees one network "
                          f"(the one Arch.infer_model_name names): use CELoss and TopkAcc there")
    if not mutual:
        if "MutualKLLoss" in names or "MutualTopkAcc" in metrics:
            raise ConfigError("MutualKLLoss and MutualTopkAcc read the networks of Arch.name: MutualModel "
                              f"(deep mutual learning); Arch.name is {arch.get('name')!r}")
        return
    if (config.get("Global") or {}).get("train_mode") == "rdrop":
        raise RDropConfigError("Global.train_mode: rdrop runs one network k times; Arch.name: MutualModel "
                               "already compares its networks: remove train_mode (and RDropLoss)")
    for name in names:
        if name not in MUTUAL_LOSSES:
            raise ConfigError(f"Loss.Train.{name} reads one network's output, but Arch.name is MutualModel: "
                              f"use {' and '.join(MUTUAL_LOSSES)} (CE on each network, KL between them)")
    for name in metrics:
        if name != "MutualTopkAcc":
            raise ConfigError(f"Metric.Train.{name} reads one network's output, but Arch.name is "
                              f"MutualModel: use MutualTopkAcc (top-k of every network)")
    networks = [key for entry in (arch.get("models") or []) if isinstance(entry, dict) for key in entry]
    for entry in train:
        (name, params), = entry.items()
        params = params or {}
        for key in ("model_names", "model_name_pairs"):
            if key in params and not isinstance(params[key], list):
                raise ConfigError(f"Loss.Train.{name}.{key} must be a list of network names such as "
                                  f"[Res2Net, SENet], got {params[key]!r}")
        named = params.get("model_names") or [n for pair in params.get("model_name_pairs") or [] for n in pair]
        for network in named:
            if network not in networks:
                raise ConfigError(f"Loss.Train.{name} names the network {network!r}, which is not in "
                                  f"Arch.models ({networks})")
        if name == "MutualKLLoss":
            check_kl_entry(name, params, ConfigError)
