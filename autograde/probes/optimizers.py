"""Probes for module 06 (Optimizer, SGD, Adam, AdamW). Runs inside the sandbox: imports only numpy, the stdlib and the
student's package. Outputs are recorded by kind as in probes/tensor.py (probes/protocol.py).

Gradients are set by hand (`p.grad = Tensor(g)`) from the fixture, step by step, so a trajectory depends on the
optimizer alone; the autograd of module 05 (the reference's here) is imported first because it gives every Tensor its
`grad` attribute, and two probes take a step against the gradients it computes for a Linear layer. Trajectories are
compared with the reference's, which follows torch.optim, at float32 tolerance. Error messages are raw outputs,
judged by the pack's rules for the option and value they must name, in the student's words.
"""

from collections.abc import Callable, Iterator

import numpy as np

import tinytorch.core.autograd  # noqa: F401  first: installs .grad (None by default) and backward()
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.tensor import Tensor

from .common import Arrays, ContractError, Outputs, arr, linear_from
from .protocol import ERROR, FLAG, TEXT, key

HAND_STEPS = 3  # steps of the probes that mirror a notebook test
PARAM_SHAPES = ((4, 3), (5,), (2, 2, 2))  # fixture p0..p2 of the hidden trajectories; p3 of shape (3,) never has a grad
SGD_CONFIGS = (
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.1, "weight_decay": 0.1},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05},
    {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.3},
)
ADAM_OPTIONS = ({"weight_decay": 0.1}, {"betas": (0.5, 0.9)}, {"eps": 0.1}, {"betas": (0.0, 0.0)})  # lr 0.1
ADAM_CONFIGS = (
    {"lr": 1e-3},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-3},
    {"lr": 0.1, "betas": (0.0, 0.9), "eps": 1e-6},
)
ADAMW_DECAYS = (0.1, 0.5)  # lr 0.1
ADAMW_CONFIGS = (
    {"lr": 1e-3},
    {"lr": 0.05, "weight_decay": 0.5},
    {"lr": 0.1, "weight_decay": 0.1, "betas": (0.5, 0.9)},
)
BAD_BETAS = ((1.0, 0.999), (0.9, -0.1), (0.9, 1.5))


def _options(config: dict) -> str:
    return ", ".join(f"{name}={value}" for name, value in config.items())


def _trajectory_labels(optimizer: str, configs: tuple[dict, ...], steps: int) -> dict[str, str]:
    labels = {}
    for c, config in enumerate(configs):
        for k, shape in enumerate(PARAM_SHAPES):
            labels[f"c{c}_p{k}"] = f"{optimizer}({_options(config)}): a {shape} parameter over {steps} steps"
        labels[key(FLAG, f"c{c}_lazy")] = (
            f"{optimizer}({_options(config)}): a parameter that never had a gradient should have no state and not move"
        )
    return labels


LABELS: dict[str, dict[str, str]] = {
    "optimizer_params_zero_grad": {
        **{
            key(FLAG, f"{kind}_{what}"): f"Optimizer built from {article} {kind}: {text}"
            for kind, article in (("list", "a"), ("generator", "a"), ("iterator", "an"))
            for what, text in (
                ("params", "opt.params should be a list of the given Tensors, in order"),
                ("state", "opt.state should be an empty dict"),
                ("zero_grad", "zero_grad() should set every grad to None, every time it is called"),
            )
        },
        "sgd_generator": "a parameter after two SGD steps, SGD built from a generator",
    },
    "optimizer_arguments": {
        key(ERROR, "empty_list"): "Optimizer([], ...) (should raise ValueError)",
        key(ERROR, "empty_generator"): "Optimizer with an empty generator (should raise ValueError)",
        key(ERROR, "not_tensor"): "Optimizer with an ndarray among the parameters (should raise TypeError)",
        key(ERROR, "bad_lr"): "Optimizer with a negative lr",
        key(ERROR, "nan_lr"): "Optimizer with lr=nan",
        key(ERROR, "bad_decay"): "Optimizer with a negative weight_decay",
        key(ERROR, "zero_lr"): "Optimizer with lr=0 and weight_decay=0 (allowed)",
        key(ERROR, "no_decay"): "Optimizer whose options have no weight_decay (allowed)",
        key(ERROR, "sgd_bad_lr"): "SGD with a negative lr",
        key(ERROR, "adam_bad_decay"): "Adam with a negative weight_decay",
    },
    "sgd_plain": {
        "trajectory": f"SGD(lr=0.1): the parameter after each of {HAND_STEPS} steps",
        key(FLAG, "no_state"): "plain SGD (momentum 0) should keep no arrays in its state",
        "frozen": "a parameter whose grad is None, after a step (should not move)",
        "free": "a parameter with a gradient, next to one without",
        "lr_zero": "a parameter after a step with lr=0 (should not move)",
        "weight": "a Linear's weight after one SGD step against your autograd's gradient",
        "bias": "a Linear's bias after one SGD step against your autograd's gradient",
    },
    "sgd_momentum_weight_decay": {
        "trajectory": f"SGD(lr=0.1, momentum=0.9, weight_decay=0.1): the parameter after each of {HAND_STEPS} steps",
        "buffer": "state[p]['momentum_buffer'] after each step",
        key(FLAG, "lazy"): "state should be empty before the first step",
        key(TEXT, "state_keys"): "the keys of state[p] for SGD with momentum",
        key(FLAG, "idle_no_state"): "a parameter that never had a gradient should get no state",
        "idle": "a parameter that never had a gradient (should not move)",
        "constant": "SGD(lr=0.1, momentum=0.9) after 50 steps of a constant gradient",
        key(ERROR, "negative_momentum"): "SGD with a negative momentum",
    },
    "sgd_hidden_trajectories": _trajectory_labels("SGD", SGD_CONFIGS, 10),
    "adam_first_steps": {
        "trajectory": f"Adam(lr=0.1): the parameter after each of {HAND_STEPS} steps",
        key(FLAG, "lazy"): "state should be empty before the first step",
        key(TEXT, "state_keys"): "the keys of state[p] for Adam",
        "step": f"state[p]['step'] after {HAND_STEPS} steps",
        "exp_avg": f"state[p]['exp_avg'] after {HAND_STEPS} steps",
        "exp_avg_sq": f"state[p]['exp_avg_sq'] after {HAND_STEPS} steps",
        "late_step": "state[p]['step'] of a parameter whose grad was None at one of 3 steps",
        "late": "a parameter whose grad was None at one of 3 steps",
        "weight": "a Linear's weight after one Adam step against your autograd's gradient",
        "bias": "a Linear's bias after one Adam step against your autograd's gradient",
    },
    "adam_options": {
        **{f"o{k}": f"Adam(lr=0.1, {_options(o)}) over {HAND_STEPS} steps" for k, o in enumerate(ADAM_OPTIONS)},
        **{key(ERROR, f"bad_betas_{k}"): f"Adam with betas={b}" for k, b in enumerate(BAD_BETAS)},
        key(ERROR, "bad_eps"): "Adam with a negative eps",
        key(ERROR, "zero_betas"): "Adam with betas=(0.0, 0.0) (allowed)",
    },
    "adam_hidden_trajectories": {
        **_trajectory_labels("Adam", ADAM_CONFIGS, 25),
        **{
            f"c{c}_steps": f"Adam({_options(o)}): state[p]['step'] of each parameter"
            for c, o in enumerate(ADAM_CONFIGS)
        },
    },
    "adamw_decoupled": {
        **{
            f"decay_{k}": f"AdamW(lr=0.1, weight_decay={d}) over {HAND_STEPS} steps" for k, d in enumerate(ADAMW_DECAYS)
        },
        key(TEXT, "state_keys"): "the keys of state[p] for AdamW",
        "shrink": "AdamW(lr=0.1, weight_decay=0.5) after 3 steps of a zero gradient (should be p * 0.95**3)",
        "idle": "a parameter whose grad is None, next to one being decayed (should not move)",
    },
    "adamw_hidden_trajectories": _trajectory_labels("AdamW", ADAMW_CONFIGS, 25),
}


def _tensors(inputs: Arrays, names: list[str]) -> list[Tensor]:
    return [Tensor(inputs[name].copy()) for name in names]


def _identical(given: list[Tensor], params) -> bool:
    return (
        isinstance(params, list)
        and len(params) == len(given)
        and all(a is b for a, b in zip(given, params, strict=True))
    )


def _state(opt: Optimizer, p: Tensor, what: str) -> dict:
    """opt.state[p], which must be a dict."""
    state = getattr(opt, "state", None)
    if not isinstance(state, dict) or not isinstance(state.get(p), dict):
        raise ContractError(f"{what}: opt.state[p] should be a dict after p's first step")
    return state[p]


def _state_array(opt: Optimizer, p: Tensor, name: str) -> np.ndarray:
    state = _state(opt, p, f"state[p][{name!r}]")
    if name not in state:
        raise ContractError(f"opt.state[p] should hold {name!r} (PyTorch's name), got keys {sorted(state)}")
    return np.array(state[name])


def _stateless(opt: Optimizer, p: Tensor) -> bool:
    """p has no state entry, or an empty one."""
    return isinstance(opt.state, dict) and not opt.state.get(p)


def _no_arrays(opt: Optimizer) -> bool:
    """The state holds no array at all (empty dicts per parameter are fine)."""
    return isinstance(opt.state, dict) and not any(
        isinstance(v, np.ndarray) for s in opt.state.values() for v in (s.values() if isinstance(s, dict) else [s])
    )


def _steps(opt: Optimizer, params: list[Tensor], grads: list[np.ndarray]) -> np.ndarray:
    """Step with grads[t] as the only parameter's gradient at step t; its data after each step, stacked."""
    path = []
    for g in grads:
        params[0].grad = Tensor(g)
        opt.step()
        path.append(arr(params[0], "a parameter after step()"))
    return np.stack(path)


def _trajectories(
    out: Outputs, inputs: Arrays, make: Callable[[Iterator], Optimizer], c: int
) -> tuple[Optimizer, list[Tensor]]:
    """Values c{c}_p{k}: each parameter after every step, with the fixture's gradients g{k}[t], None where skip[t, k];
    flag c{c}_lazy: p3, which never gets a gradient, keeps no state and does not move. The optimizer is built from
    a generator."""
    params = _tensors(inputs, [f"p{k}" for k in range(len(PARAM_SHAPES))] + ["never"])
    opt = make(p for p in params)
    skip, paths = inputs["skip"], [[] for _ in PARAM_SHAPES]
    for t in range(len(skip)):
        for k in range(len(paths)):
            params[k].grad = None if skip[t, k] else Tensor(inputs[f"g{k}"][t])
        opt.step()
        for k, path in enumerate(paths):
            path.append(arr(params[k], "a parameter after step()"))
    for k, path in enumerate(paths):
        out.value(f"c{c}_p{k}", np.stack(path))
    out.flag(f"c{c}_lazy", _stateless(opt, params[-1]) and np.array_equal(params[-1].data, inputs["never"]))
    return opt, params[:-1]


def _every_config(inputs: Arrays, optimizer: type, configs: tuple[dict, ...]) -> tuple[Outputs, list]:
    """The trajectories of `optimizer` with each of `configs`; each run's (optimizer, params)."""
    out = Outputs()
    runs = [
        _trajectories(out, inputs, lambda ps, config=config: optimizer(ps, **config), c)
        for c, config in enumerate(configs)
    ]
    return out, runs


def _state_keys(out: Outputs, opt: Optimizer, p: Tensor, what: str) -> None:
    """Text state_keys: the sorted keys of opt.state[p], comma-separated."""
    out.text("state_keys", ",".join(sorted(map(str, _state(opt, p, what)))))


def _linear_step(out: Outputs, inputs: Arrays, make: Callable[[list], Optimizer]) -> None:
    """Values weight and bias: a Linear(3, 2) with the fixture's parameters after one step against the gradients of
    the MSE of its outputs, computed by autograd."""
    layer = linear_from(inputs["weight"], inputs["bias"])
    MSELoss()(layer(Tensor(inputs["x"])), inputs["y"]).backward()
    make(layer.parameters()).step()
    out.value("weight", arr(layer.weight, "the Linear's weight after step()"))
    out.value("bias", arr(layer.bias, "the Linear's bias after step()"))


# --------------------------------------------------------------------------- optimizer


def optimizer_params_zero_grad(inputs: Arrays) -> Outputs:
    """Optimizer from a list, a generator and an iterator: opt.params, the empty state, zero_grad() twice; SGD from a
    generator, two steps."""
    out = Outputs()
    params = _tensors(inputs, ["w0", "w1", "w2"])
    for kind, given in (("list", params), ("generator", (p for p in params)), ("iterator", iter(params))):
        opt = Optimizer(given, {"lr": 0.1})
        out.flag(f"{kind}_params", _identical(params, opt.params))
        out.flag(f"{kind}_state", isinstance(opt.state, dict) and opt.state == {})
        cleared = True
        for _ in range(2):
            for p in params:
                p.grad = Tensor(np.ones(p.shape))
            opt.zero_grad()
            cleared = cleared and all(p.grad is None for p in params)
        out.flag(f"{kind}_zero_grad", cleared)
    w = Tensor(inputs["w0"].copy())
    out.value("sgd_generator", _steps(SGD((p for p in [w]), lr=0.1), [w], [inputs["g"], inputs["g"]])[-1])
    return out


def optimizer_arguments(inputs: Arrays) -> Outputs:
    """The errors for an empty parameter list or generator, a non-Tensor, a negative or NaN lr and a negative
    weight_decay (also through SGD and Adam); none for lr=0 or options without weight_decay."""
    out, w = Outputs(), Tensor(np.ones(3))
    bad_lr, bad_decay = float(inputs["bad_lr"]), float(inputs["bad_decay"])
    out.raises("empty_list", lambda: Optimizer([], {"lr": 0.1}), message=False)
    out.raises("empty_generator", lambda: Optimizer((p for p in []), {"lr": 0.1}), message=False)
    out.raises("not_tensor", lambda: Optimizer([w, np.ones(3)], {"lr": 0.1}), message=False)
    out.raises_with_raw_message("bad_lr", lambda: Optimizer([w], {"lr": bad_lr}))
    out.raises("nan_lr", lambda: Optimizer([w], {"lr": float("nan")}), message=False)
    out.raises_with_raw_message("bad_decay", lambda: Optimizer([w], {"lr": 0.1, "weight_decay": bad_decay}))
    out.raises("zero_lr", lambda: Optimizer([w], {"lr": 0.0, "weight_decay": 0.0}), message=False)
    out.raises("no_decay", lambda: Optimizer([w], {"lr": 0.1, "momentum": 0.5}), message=False)
    out.raises("sgd_bad_lr", lambda: SGD([w], lr=bad_lr), message=False)
    out.raises("adam_bad_decay", lambda: Adam([w], weight_decay=bad_decay), message=False)
    return out


# --------------------------------------------------------------------------- sgd


def sgd_plain(inputs: Arrays) -> Outputs:
    """SGD(lr=0.1) over the fixture's steps, no state; a parameter without a gradient next to one with; lr=0; one step
    of a Linear against autograd's gradients."""
    out = Outputs()
    w = _tensors(inputs, ["w"])
    opt = SGD(w, lr=0.1)
    out.value("trajectory", _steps(opt, w, list(inputs["g"])))
    out.flag("no_state", _no_arrays(opt))
    frozen, free = _tensors(inputs, ["frozen", "free"])
    free.grad = Tensor(inputs["free_grad"])
    SGD([frozen, free], lr=0.5).step()
    out.value("frozen", arr(frozen, "a parameter without a gradient after step()"))
    out.value("free", arr(free, "a parameter after step()"))
    frozen.grad = Tensor(inputs["frozen_grad"])
    SGD([frozen], lr=0.0).step()
    out.value("lr_zero", arr(frozen, "a parameter after a step with lr=0"))
    _linear_step(out, inputs, lambda params: SGD(params, lr=0.05))
    return out


def sgd_momentum_weight_decay(inputs: Arrays) -> Outputs:
    """SGD(lr=0.1, momentum=0.9, weight_decay=0.1) over the fixture's steps: the parameter, the momentum buffer, lazy
    state, an idle parameter; 50 steps of a constant gradient; the error for a negative momentum."""
    out = Outputs()
    w, idle = _tensors(inputs, ["w", "idle"])
    opt = SGD([w, idle], lr=0.1, momentum=0.9, weight_decay=0.1)
    out.flag("lazy", isinstance(opt.state, dict) and opt.state == {})
    path, buffers = [], []
    for g in inputs["g"]:
        path.append(_steps(opt, [w], [g])[0])
        buffers.append(_state_array(opt, w, "momentum_buffer"))
    out.value("trajectory", np.stack(path))
    out.value("buffer", np.stack(buffers))
    _state_keys(out, opt, w, "SGD's state")
    out.flag("idle_no_state", _stateless(opt, idle))
    out.value("idle", arr(idle, "a parameter without a gradient after step()"))
    constant = Tensor(np.zeros(2))
    out.value("constant", _steps(SGD([constant], lr=0.1, momentum=0.9), [constant], [inputs["constant"]] * 50)[-1])
    bad_momentum = float(inputs["bad_momentum"])
    out.raises_with_raw_message("negative_momentum", lambda: SGD([constant], lr=0.1, momentum=bad_momentum))
    return out


def sgd_hidden_trajectories(inputs: Arrays) -> Outputs:
    """SGD with every mix of momentum and weight decay of SGD_CONFIGS, over the fixture's steps, some skipped."""
    return _every_config(inputs, SGD, SGD_CONFIGS)[0]


# --------------------------------------------------------------------------- adam


def adam_first_steps(inputs: Arrays) -> Outputs:
    """Adam(lr=0.1) over the fixture's steps: the parameter, lazy state, its keys and values; a parameter skipped at
    step 2 counts its own steps; one step of a Linear against autograd's gradients."""
    out = Outputs()
    w = _tensors(inputs, ["w"])
    opt = Adam(w, lr=0.1)
    out.flag("lazy", isinstance(opt.state, dict) and opt.state == {})
    out.value("trajectory", _steps(opt, w, list(inputs["g"])))
    _state_keys(out, opt, w[0], "Adam's state")
    out.value("step", np.int64(_state_array(opt, w[0], "step")))
    out.value("exp_avg", _state_array(opt, w[0], "exp_avg"))
    out.value("exp_avg_sq", _state_array(opt, w[0], "exp_avg_sq"))
    early, late = _tensors(inputs, ["w", "late"])
    opt = Adam([early, late], lr=0.1)
    for t, g in enumerate(inputs["g"]):
        early.grad = Tensor(g)
        late.grad = None if t == 1 else Tensor(inputs["late_g"][t])
        opt.step()
    out.value("late_step", np.int64(_state_array(opt, late, "step")))
    out.value("late", arr(late, "a parameter after step()"))
    _linear_step(out, inputs, lambda params: Adam(params, lr=0.01))
    return out


def adam_options(inputs: Arrays) -> Outputs:
    """Adam(lr=0.1) with each option of ADAM_OPTIONS over the fixture's steps; the errors for betas outside [0, 1)
    and a negative eps."""
    out = Outputs()
    for k, options in enumerate(ADAM_OPTIONS):
        w = _tensors(inputs, ["w"])
        out.value(f"o{k}", _steps(Adam(w, lr=0.1, **options), w, list(inputs["g"])))
    w = Tensor(np.ones(2))
    for k, betas in enumerate(inputs["bad_betas"].tolist()):  # Python floats, as a student would pass them
        out.raises_with_raw_message(f"bad_betas_{k}", lambda b=tuple(betas): Adam([w], betas=b))
    out.raises_with_raw_message("bad_eps", lambda: Adam([w], eps=float(inputs["bad_eps"])))
    out.raises("zero_betas", lambda: Adam([w], betas=(0.0, 0.0)), message=False)
    return out


def adam_hidden_trajectories(inputs: Arrays) -> Outputs:
    """Adam with each configuration of ADAM_CONFIGS over the fixture's steps, some skipped, and each parameter's
    step count."""
    out, runs = _every_config(inputs, Adam, ADAM_CONFIGS)
    for c, (opt, params) in enumerate(runs):
        out.value(f"c{c}_steps", np.array([_state_array(opt, p, "step") for p in params], dtype=np.int64))
    return out


# --------------------------------------------------------------------------- adamw


def adamw_decoupled(inputs: Arrays) -> Outputs:
    """AdamW(lr=0.1) with each weight decay of ADAMW_DECAYS over the fixture's steps; three steps of a zero gradient
    next to a parameter without one."""
    out = Outputs()
    for k, decay in enumerate(ADAMW_DECAYS):
        w = _tensors(inputs, ["w"])
        opt = AdamW(w, lr=0.1, weight_decay=decay)
        out.value(f"decay_{k}", _steps(opt, w, list(inputs["g"])))
    _state_keys(out, opt, w[0], "AdamW's state")
    w, idle = _tensors(inputs, ["w", "idle"])
    zeros = np.zeros_like(inputs["w"])
    out.value("shrink", _steps(AdamW([w, idle], lr=0.1, weight_decay=0.5), [w, idle], [zeros] * 3)[-1])
    out.value("idle", arr(idle, "a parameter without a gradient after step()"))
    return out


def adamw_hidden_trajectories(inputs: Arrays) -> Outputs:
    """AdamW with each configuration of ADAMW_CONFIGS over the fixture's steps, some skipped."""
    return _every_config(inputs, AdamW, ADAMW_CONFIGS)[0]
