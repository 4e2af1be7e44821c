"""Check pack of module 06 Optimizers (probes: autograde/probes/optimizers.py).

Trajectories (each parameter after every step, gradients set from the fixture) are compared with the reference's,
which follows torch.optim, at float32 tolerance; so are the state an optimizer keeps and the errors it raises. The
wording of error messages is the student's: the rules here only require that a message names the option and the
value given.
"""

import numpy as np

from autograde.fixture_io import Arrays, Fixture, Spec, f32
from autograde.judging import Check, expected_outputs, shorten
from autograde.probes.protocol import Result, decode_text

# Parameters of size about 1 after a few dozen float32 operations each; PyTorch's own arrangement of the same
# arithmetic lands within a few float32 roundings of the reference (benchmarks/parity_optim.py).
F32 = {"rtol": 1e-5, "atol": 1e-6}

# --------------------------------------------------------------------------- fixture inputs


def _hand_inputs(rng: np.random.Generator, steps: int = 3) -> Arrays:
    """A (2, 3) parameter `w` and its gradient at each step, `g`, of size about 1."""
    return {"w": f32(rng.standard_normal((2, 3))), "g": f32(rng.standard_normal((steps, 2, 3)))}


def _linear_inputs(rng: np.random.Generator) -> Arrays:
    """A Linear(3, 2)'s parameters and a batch of 5 regression samples."""
    return {
        "weight": f32(rng.standard_normal((3, 2)) / np.sqrt(3)),
        "bias": f32(rng.standard_normal(2) * 0.5),
        "x": f32(rng.standard_normal((5, 3))),
        "y": f32(rng.standard_normal((5, 2))),
    }


def _trajectory_inputs(steps: int, scales: tuple[float, ...]) -> "callable":
    """Parameters p0..p2 of PARAM_SHAPES, one more that never gets a gradient, their gradients at each step (p_k's of
    size scales[k]) and which gradients are None (skip[t, k], about one in five)."""

    def inputs(rng: np.random.Generator) -> Arrays:
        from autograde.probes.optimizers import PARAM_SHAPES

        out = {f"p{k}": f32(rng.standard_normal(shape)) for k, shape in enumerate(PARAM_SHAPES)}
        for k, shape in enumerate(PARAM_SHAPES):
            out[f"g{k}"] = f32(rng.standard_normal((steps, *shape)) * scales[k])
        skip = rng.random((steps, len(PARAM_SHAPES))) < 0.2
        skip[:2] = False  # every parameter starts with two real steps
        return out | {"never": f32(rng.standard_normal(3)), "skip": skip}

    return inputs


def _adam_options_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.optimizers import BAD_BETAS

    return _hand_inputs(rng) | {"bad_betas": np.array(BAD_BETAS), "bad_eps": np.float64(-1e-8)}


# --------------------------------------------------------------------------- rules


def _names(out: Result, name: str, needles: tuple[str, ...], what: str) -> list[str]:
    """When error `name` is the expected ValueError (judged by expected_outputs), its message (raw `name`_message)
    contains every needle."""
    message = decode_text(out.raw[f"{name}_message"])
    if out.error[name] != "ValueError" or all(n in message for n in needles):
        return []
    return [f"the error for {what} should name {' and '.join(needles)}, got: {shorten(message)!r}"]


def _number(a: np.ndarray) -> str:
    return str(float(a))


def argument_message_rule(out: Result, fx: Fixture) -> list[str]:
    """The errors for a negative lr and weight_decay name the option and the value."""
    lr, decay = _number(fx.inputs["bad_lr"]), _number(fx.inputs["bad_decay"])
    return _names(out, "bad_lr", ("lr", lr), f"lr={lr}") + _names(
        out, "bad_decay", ("weight_decay", decay), f"weight_decay={decay}"
    )


def momentum_message_rule(out: Result, fx: Fixture) -> list[str]:
    """The error for a negative momentum names it and its value."""
    value = _number(fx.inputs["bad_momentum"])
    return _names(out, "negative_momentum", ("momentum", value), f"momentum={value}")


def adam_message_rule(out: Result, fx: Fixture) -> list[str]:
    """The errors for betas outside [0, 1) name the beta outside; the one for a negative eps names eps."""
    problems = []
    for k, betas in enumerate(fx.inputs["bad_betas"]):
        bad = _number(next(b for b in betas if not 0 <= b < 1))
        problems += _names(out, f"bad_betas_{k}", (bad,), f"betas={tuple(map(float, betas))}")
    return problems + _names(out, "bad_eps", ("eps",), f"eps={_number(fx.inputs['bad_eps'])}")


# --------------------------------------------------------------------------- checks

CHECKS = (
    Check(
        "optimizer-params-zero-grad",
        points=2,
        title="Optimizer reads any iterable of Tensors (a list, a generator, an iterator) into a list once, starts "
        "with empty state, and zero_grad() sets every grad to None",
        hint="Store list(params) in self.params: a generator can be read only once. zero_grad() loops over "
        "self.params and sets each .grad to None.",
        probe="optimizer_params_zero_grad",
        fixture=Spec(
            seed=60,
            inputs=lambda rng: {
                "w0": f32(rng.standard_normal((3, 2))),
                "w1": f32(rng.standard_normal(2)),
                "w2": f32(rng.standard_normal((2, 2, 2))),
                "g": f32(rng.standard_normal((3, 2))),
            },
            **F32,
        ),
    ),
    Check(
        "optimizer-arguments",
        points=2,
        title="Optimizer refuses an empty parameter list, a non-Tensor, a negative or NaN lr and a negative "
        "weight_decay, naming the option and its value; lr=0 is allowed",
        hint="After list(params): ValueError if it is empty, TypeError for an element that is not a Tensor; then "
        "for lr and weight_decay (defaults.get(name, 0.0)) raise ValueError unless value >= 0, which also refuses "
        "NaN.",
        probe="optimizer_arguments",
        rules=(expected_outputs, argument_message_rule),
        fixture=Spec(seed=61, inputs=lambda rng: {"bad_lr": np.float64(-0.1), "bad_decay": np.float64(-0.01)}),
    ),
    Check(
        "sgd-plain",
        points=2,
        title="SGD steps p - lr * grad in place, keeps no state without momentum, skips parameters whose grad is "
        "None, and moves nothing with lr=0",
        hint="In step(), for each p in self.params: continue when p.grad is None, else p.data -= self.lr * g with "
        "g = p.grad.data.",
        probe="sgd_plain",
        fixture=Spec(
            seed=62,
            inputs=lambda rng: (
                _hand_inputs(rng)
                | _linear_inputs(rng)
                | {
                    "frozen": f32(rng.standard_normal(2)),
                    "frozen_grad": f32(rng.standard_normal(2)),
                    "free": f32(rng.standard_normal(1)),
                    "free_grad": f32(rng.standard_normal(1)),
                }
            ),
            **F32,
            terms=5,  # the weight's gradient sums over a batch of 5
        ),
    ),
    Check(
        "sgd-momentum-weight-decay",
        points=3,
        title="SGD with momentum and weight decay follows PyTorch: decay added to the gradient, the buffer equal "
        "to the gradient at the first step, state created lazily",
        hint="g = p.grad.data + weight_decay * p.data; at p's first step state[p]['momentum_buffer'] = a copy of "
        "g, after that momentum * buffer + g; step along the buffer: p.data -= lr * buffer.",
        probe="sgd_momentum_weight_decay",
        rules=(expected_outputs, momentum_message_rule),
        fixture=Spec(
            seed=63,
            inputs=lambda rng: (
                _hand_inputs(rng)
                | {"idle": f32(rng.standard_normal(2)), "constant": f32([1.0, -0.5]), "bad_momentum": np.float64(-0.9)}
            ),
            **F32,
        ),
    ),
    Check(
        "sgd-hidden-trajectories",
        points=2,
        title="SGD follows PyTorch's trajectory over 10 steps for every mix of momentum and weight decay, on "
        "parameters of several shapes, skipping those without a gradient",
        hint="A parameter whose grad is None gets no decay, no buffer update and no state; the buffer of each "
        "parameter is its own.",
        probe="sgd_hidden_trajectories",
        fixture=Spec(seed=64, inputs=_trajectory_inputs(10, (1.0, 0.5, 2.0)), **F32),
    ),
    Check(
        "adam-first-steps",
        points=3,
        title="Adam follows PyTorch's update with bias correction, keeps step, exp_avg and exp_avg_sq per "
        "parameter, created lazily, and counts each parameter's own steps",
        hint="In update(): create the state at p's first call, add 1 to state['step'], update both moments, then "
        "p.data -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps).",
        probe="adam_first_steps",
        fixture=Spec(
            seed=65,
            inputs=lambda rng: (
                _hand_inputs(rng)
                | _linear_inputs(rng)
                | {"late": f32(rng.standard_normal(2)), "late_g": f32(rng.standard_normal((3, 2)))}
            ),
            **F32,
            terms=5,  # the weight's gradient sums over a batch of 5
        ),
    ),
    Check(
        "adam-options",
        points=2,
        title="Adam's weight decay (added to the gradient), betas and eps act as in PyTorch; betas outside [0, 1) "
        "and a negative eps are refused",
        hint="Weight decay: g + weight_decay * p before the moments. eps is added to sqrt(v) / sqrt(1 - beta2**t), "
        "outside the square root and after the bias correction.",
        probe="adam_options",
        rules=(expected_outputs, adam_message_rule),
        fixture=Spec(
            seed=66,
            inputs=_adam_options_inputs,
            **F32,
        ),
    ),
    Check(
        "adam-hidden-trajectories",
        points=2,
        title="Adam follows PyTorch's trajectory over 25 steps for several learning rates, betas, eps and weight "
        "decays, each parameter counting its own steps",
        hint="Keep the step count in state[p], not on the optimizer: a parameter skipped because its grad is None "
        "does not advance it.",
        probe="adam_hidden_trajectories",
        fixture=Spec(seed=67, inputs=_trajectory_inputs(25, (1.0, 1e-3, 100.0)), **F32),
    ),
    Check(
        "adamw-decoupled",
        points=3,
        title="AdamW shrinks each parameter by lr * weight_decay before Adam's step on the plain gradient, and "
        "leaves parameters without a gradient alone",
        hint="For each p with a gradient: p.data *= 1 - self.lr * self.weight_decay, then self.update(p, "
        "p.grad.data); the decay never enters the gradient.",
        probe="adamw_decoupled",
        fixture=Spec(seed=68, inputs=lambda rng: _hand_inputs(rng) | {"idle": f32(rng.standard_normal(2))}, **F32),
    ),
    Check(
        "adamw-hidden-trajectories",
        points=2,
        title="AdamW follows PyTorch's trajectory over 25 steps for several learning rates and weight decays, "
        "skipping parameters without a gradient",
        hint="Shrink first, then take Adam's step, and only for parameters whose grad is not None.",
        probe="adamw_hidden_trajectories",
        fixture=Spec(seed=69, inputs=_trajectory_inputs(25, (1.0, 1e-3, 100.0)), **F32),
    ),
)
