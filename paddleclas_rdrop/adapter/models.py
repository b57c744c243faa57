"""What the adapter knows of PaddleClas's models: the one builder of a model (its own parameter-name scope,
its constructor's errors as one `ConfigError` naming the Arch key), the arguments that set the rate of a
backbone's own stochastic layers (read from its signature and its source), whether a backbone builds with
one of them (`builds_with`), and the settings that make a model's k passes differ (`randomness_fixes`)."""

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Mapping, Optional, Set, Tuple

from ..core.drop_path import residual_blocks
from ..core.errors import ConfigError, RDropError, did_you_mean, first_line
from ..core.models import stochastic_layers, unwrap
from .wheel import wheel_module

if TYPE_CHECKING:
    import ast

    import paddle
    from typing_extensions import TypeGuard

ARCH_KEYS_NOT_PASSED = ("name", "pretrained", "use_sync_bn", "use_ml_decoder")  # build_model takes them out
# passed to the backbone too, but read from the config by PaddleClas's `ExportModel` (engine.py) and the
# standalone export (`tools/standalone/outputs.py`): no backbone reads them
ARCH_KEYS_THE_EXPORT_READS = ("infer_add_softmax", "infer_output_key", "infer_model_name")


def build(
    make: Callable[[], "paddle.nn.Layer"], name: str, section: str = "Arch", scope: Optional[str] = None
) -> "paddle.nn.Layer":
    """`make()`, a call of PaddleClas's model `name` (a backbone, `build_model`, ...), in its own parameter-name
    scope (`scope`, a prefix, or a fresh one: PaddleClas's fixed parameter names would clash with a model built
    before in the process), its errors as one `ConfigError` naming `section` (`building`)."""
    import paddle

    with building(name, section), paddle.utils.unique_name.guard(scope):
        return make()


@contextlib.contextmanager
def building(name: str, section: str = "Arch") -> Iterator[None]:
    """Around a PaddleClas model constructor: what it raises for an argument it does not take or lacks
    (`TypeError`, `KeyError`, `AttributeError`, `ValueError`, `AssertionError`), and a failed download of
    its `pretrained` weights (PaddleClas's `RuntimeError`), becomes one `ConfigError` naming `section` and
    the model `name`."""
    try:
        yield
    except RDropError:
        raise
    except RuntimeError as error:  # PaddleClas's download of Arch.pretrained weights
        import re

        download = re.search(r"Download from (\S+) failed", str(error))
        if not download:
            raise
        raise ConfigError(
            f"{section}.pretrained: {name!r} downloads its weights from {download.group(1)}, which failed here: "
            f"download that file where there is a network and set -o Global.pretrained_model=<its path without "
            f".pdparams> -o {section}.pretrained=False, or set {section}.pretrained=False to start from random weights"
        ) from None
    except KeyError as error:
        key = error.args[0] if error.args else None
        if not isinstance(key, str) or not key.isidentifier() or key == name:  # a table of PaddleClas's own
            raise ConfigError(f"{section}: PaddleClas's code cannot build {name!r} (KeyError: {key!r})") from None
        raise ConfigError(f"{section}: cannot build {name!r}: it needs the key {section}.{key}") from None
    except (TypeError, AttributeError, ValueError, AssertionError) as error:
        import re

        twice = re.search(r"got multiple values for (?:keyword )?argument '(\w+)'", str(error))
        if twice:
            key = f"{section}.{twice.group(1)}"
            raise ConfigError(f"{section}: cannot build {name!r}: {name} sets {key} itself: remove {key}") from None
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if unexpected and unexpected.group(1) == "class_num":
            raise ConfigError(
                f"{section}: cannot build {name!r}: it takes no {section}.class_num, so it gives features, not the "
                f"class logits R-Drop compares (PaddleClas trains it inside RecModel); use a classifier backbone"
            ) from None
        if unexpected:
            key = f"{section}.{unexpected.group(1)}"
            raise ConfigError(f"{section}: cannot build {name!r}: it takes no {key}") from None
        raise ConfigError(f"{section}: cannot build {name!r}: {first_line(error)}") from None


def build_backbone(name: str, **arguments: Any) -> "paddle.nn.Layer":
    """`backbone.<name>(**arguments)` of the `paddleclas` wheel (`build`), without pretrained weights (a
    download; UniFormer's constructors default to them); `ConfigError` when it cannot be built."""
    import inspect

    backbone = wheel_module("ppcls.arch.backbone")

    constructor = getattr(backbone, name)
    if "pretrained" in inspect.signature(constructor).parameters:
        arguments = {"pretrained": False, **arguments}
    return build(lambda: constructor(**arguments), name)


def builds_with(arch: Mapping[str, Any]) -> Callable[[str, Any], bool]:
    """For the `Arch` section `arch` of a backbone of PaddleClas: a function `(key, value) -> bool`, whether
    the backbone can be built with `Arch.<key>` set to `value` too and then has a rate above 0 (built once
    per call, without pretrained weights; a wrapper such as FasterNet_T0 passes some rate arguments itself,
    LeViT's drops them). True for a name that is not a backbone (RecModel, the plugin's MutualModel)."""

    def builds(key: str, value: Any) -> bool:
        backbone = wheel_module("ppcls.arch.backbone")

        if not callable(getattr(backbone, str(arch.get("name")), None)):
            return True
        arguments = {name: given for name, given in arch.items() if name not in ARCH_KEYS_NOT_PASSED}
        try:
            built = build_backbone(arch["name"], **{**arguments, key: value})
        except ConfigError:
            return False
        return has_active_rate(built)

    return builds


def has_active_rate(net: "paddle.nn.Layer") -> bool:
    """Whether `net` has an active stochastic layer (`stochastic_layers`) or a sublayer keeping a rate above 0
    in an attribute (`p`, `drop_prob`, `drop`, `dropout`, ...: LeViT draws its drop path in `forward`)."""
    if stochastic_layers(net):
        return True
    for layer in [net, *net.sublayers()]:
        for name, value in vars(layer).items():
            rate = name == "p" or "drop" in name.lower()
            if rate and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                return True
    return False


KWARGS_READS = r"""kwargs(?:\.get|\.pop|\.setdefault)?[\[(]\s*["'](\w+)["']|["'](\w+)["']\s+in\s+kwargs"""


def named_arguments(constructor: Callable[..., Any], net: "paddle.nn.Layer") -> Set[str]:
    """The argument names of the backbone `constructor` (a function of `ppcls.arch.backbone`) and of the
    `__init__` of each class of the built `net`, along the chain that passes `**kwargs` on to its bases,
    and the keys their source reads out of `kwargs` by name (`kwargs.get("use_fused_attn")`, Swin's)."""
    import inspect
    import re

    names = set()
    for owner in [constructor] + [cls for cls in type(net).__mro__ if "__init__" in vars(cls)]:
        function = owner if owner is constructor else vars(owner)["__init__"]
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            break
        names |= {name for name, p in parameters.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        try:
            names |= {a or b for a, b in re.findall(KWARGS_READS, inspect.getsource(owner))}
        except (OSError, TypeError):
            pass  # no source at hand: its signature alone
        if owner is not constructor and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            break
    return names - {"self"}


def unnamed_arch_keys(arch: Mapping[str, Any], model: "paddle.nn.Layer") -> List[Tuple[str, str]]:
    """The keys of the `Arch` section `arch` that PaddleClas's backbone `arch["name"]` takes only through
    `**kwargs` (no argument of it, or of a class of the built `model`, has their name), where a backbone
    ignores them: [(key, `did_you_mean` hint among the named arguments)]. [] for a name that is not a
    backbone (RecModel, the plugin's MutualModel)."""
    import sys

    net = unwrap(model)
    module = type(net).__module__  # <package>.arch.backbone...: the tree's or the wheel's, as the engine built it
    package, found, _ = module.partition(".arch.backbone")
    backbones = sys.modules.get(package + found) if found else None
    constructor = getattr(backbones, str(arch.get("name")), None)
    if not callable(constructor):
        return []
    named = named_arguments(constructor, net)
    unnamed = [key for key in arch if key not in named and key not in ARCH_KEYS_NOT_PASSED + ARCH_KEYS_THE_EXPORT_READS]
    return [(key, did_you_mean(key, sorted(named))) for key in unnamed]


def own_rate_arguments(net: "paddle.nn.Layer") -> List[str]:
    """The arguments of `net`'s class that set the rate of stochastic layers of its own (`drop_rate`,
    `drop_path_rate`, `dropout_prob`, ... of PaddleClas's ViT, Swin, ConvNeXt, PP-HGNet, PP-LCNet and
    others), in signature order; through `**kwargs`, those of the base classes it passes them to
    (DeiT's distilled model: its ViT's)."""
    import inspect

    names = []
    for cls in type(net).__mro__:
        if "__init__" not in vars(cls):
            continue
        try:
            parameters = inspect.signature(vars(cls)["__init__"]).parameters
        except (TypeError, ValueError):
            break
        names += [
            name
            for name in parameters
            if "drop" in name and not name.startswith("_") and name not in names and reads_argument(cls, name)
        ]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            break
    return names


def reads_argument(cls: type, name: str) -> bool:
    """Whether the source of `cls` reads its argument `name` anywhere but in ``self.<name> = <name>``
    (PaddleClas's CSPNet stores its `drop_rate` and never reads it); True when the source is not at hand."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return True
    stores = {id(node.value) for node in ast.walk(tree) if _stores_argument(node, name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load) and id(node) not in stores:
            return True
        if isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.ctx, ast.Load):
            return True
    return False


def _stores_argument(node: "ast.AST", name: str) -> "TypeGuard[ast.Assign]":
    """Whether `node` is ``self.<...> = <name>``: its right-hand side reads nothing yet."""
    import ast

    return (
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
        and all(
            isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
            for t in node.targets
        )
    )


def randomness_fixes(
    net: "paddle.nn.Layer", builds_with: Optional[Callable[[str, Any], bool]] = None
) -> List[Tuple[str, float]]:
    """The settings that make the k passes of `net` differ, as `(key, usual value)` with the key as a user
    writes it, the one to try first first: `net`'s own rate arguments (`Arch.drop_path_rate` before the
    others, 0.1; with `builds_with(name, 0.1)`, only those it is true for), `RDrop.drop_path` (0.1) if drop
    path knows `net`'s residual blocks, and `RDrop.head_dropout` (0.2), which fits any model with a
    classifier."""
    own = [name for name in own_rate_arguments(net) if builds_with is None or builds_with(name, 0.1)]
    own.sort(key=lambda name: name != "drop_path_rate")
    fixes = [(f"Arch.{name}", 0.1) for name in own]
    if residual_blocks(net):
        fixes.append(("RDrop.drop_path", 0.1))
    return fixes + [("RDrop.head_dropout", 0.2)]
