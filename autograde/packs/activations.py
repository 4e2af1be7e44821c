"""Check pack of module 02 Activations (probes: autograde/probes/activations.py)."""

import numpy as np

from autograde.fixture_io import Spec, f32
from autograde.judging import Check

CHECKS = (
    Check(
        "relu-forward",
        points=1,
        title="ReLU matches max(0, x) element-wise",
        hint="ReLU keeps positive values and replaces everything else by 0, element by element, for inputs of any "
        "shape.",
        probe="relu_forward",
        fixture=Spec(
            seed=0,
            inputs=lambda rng: {
                "small": f32([[-3.0, -0.5, 0.0], [0.25, 2.0, 7.5]]),
                "cube": f32(rng.standard_normal((4, 5, 6))),
            },
        ),
    ),
    Check(
        "sigmoid-forward",
        points=2,
        title="Sigmoid matches 1 / (1 + exp(-x)) on [-20, 20]",
        hint="Compare your formula with 1 / (1 + exp(-x)) by hand at a few points, for example x = 0 and x = 2.",
        probe="sigmoid_forward",
        fixture=Spec(
            seed=1,
            inputs=lambda rng: {
                "line": f32(np.linspace(-20.0, 20.0, 81)),
                "random": f32(rng.standard_normal((3, 4)) * 4),
            },
            rtol=1e-6,
            atol=1e-7,
        ),
    ),
    Check(
        "sigmoid-stable",
        points=3,
        title="Sigmoid is accurate and overflow-free for |x| up to 1000, in float32 and float64",
        hint="exp of a large positive number overflows: use a form of the formula that only ever takes exp of a number"
        " <= 0, chosen by the sign of x.",
        probe="sigmoid_stable",
        fixture=Spec(
            seed=11,
            inputs=lambda rng: {
                "extreme": f32([-1000.0, -100.0, -88.8, -30.0, 0.0, 30.0, 88.8, 100.0, 1000.0]),
                "big": f32(rng.standard_normal((50, 20)) * 300),
            },
            rtol=1e-6,
            atol=1e-7,
        ),
    ),
    Check(
        "tanh-forward",
        points=1,
        title="Tanh matches tanh(x), also for |x| up to 1000",
        hint="Building tanh from exponentials overflows for large |x|; NumPy has a function that computes it stably.",
        probe="tanh_forward",
        fixture=Spec(
            seed=2,
            inputs=lambda rng: {
                "extreme": f32([-1000.0, -20.0, -2.0, -0.5, 0.0, 0.5, 2.0, 20.0, 1000.0]),
                "cube": f32(rng.standard_normal((2, 3, 4))),
            },
            rtol=1e-6,
            atol=1e-7,
        ),
    ),
    Check(
        "softmax-forward",
        points=2,
        title="Softmax matches exp(x) / sum(exp(x)) along the last axis",
        hint="Normalize along the last axis and keep that axis so the division broadcasts row by row; a square input "
        "shows a wrong axis.",
        probe="softmax_forward",
        fixture=Spec(
            seed=3,
            inputs=lambda rng: {
                "x0": f32(rng.standard_normal((4, 5)) * 2),
                "x1": f32(rng.standard_normal((3, 3)) * 2),
                "x2": f32(rng.standard_normal(6) * 2),
                "equal_rows": f32([[0, 0, 0, 0], [1, 2, 3, 4]]),
            },
            rtol=1e-5,
            atol=1e-7,
        ),
    ),
    Check(
        "softmax-stable",
        points=2,
        title="Softmax does not overflow for scores around +-1000 and ignores a constant shift",
        hint="Subtracting the maximum along the axis before exp changes nothing mathematically and keeps every exp() "
        "at most 1.",
        probe="softmax_stable",
        fixture=Spec(
            seed=4,
            inputs=lambda rng: {
                "pm1000": f32([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]]),
                "x": f32(rng.standard_normal((5, 4))),
                "huge64": np.array([[1e4, 0.0, -1e4], [3e4, 3e4, 3e4]]),
            },
            rtol=1e-5,
            atol=1e-7,
        ),
    ),
    Check(
        "softmax-dim",
        points=2,
        title="Softmax(dim=...) normalizes along the given dimension",
        hint="Use self.dim both for the maximum and for the sum, keeping that dimension; the default is the last one.",
        probe="softmax_dim",
        fixture=Spec(
            seed=5,
            inputs=lambda rng: {
                "x": f32(rng.standard_normal((3, 4))),
                "cube": f32(rng.standard_normal((2, 3, 4))),
                "large": f32([[1000.0, 0.0], [1001.0, 0.0]]),
            },
            rtol=1e-5,
            atol=1e-7,
        ),
    ),
    Check(
        "module-activations-contract",
        points=2,
        title="Every activation is a Module returning a new float32 Tensor of the input's shape, with no parameters",
        hint="Each activation should return a new float32 Tensor with the input's shape and never modify its input; "
        "the Module base class provides the rest.",
        probe="module_activations_contract",
        fixture=Spec(
            seed=6,
            inputs=lambda rng: {
                f"x{k}": rng.standard_normal(shape) * 3 for k, shape in enumerate([(7,), (2, 3), (2, 3, 4)])
            },
            rtol=1e-5,
            atol=1e-6,
        ),
    ),
    Check(
        "relu-hidden-infinities",
        points=1,
        title="ReLU maps -inf to 0 and keeps inf",
        hint="Multiplying by a 0/1 mask turns -inf into NaN, because -inf * 0 is NaN; choose values instead of "
        "multiplying.",
        probe="relu_hidden_infinities",
        fixture=Spec(
            seed=0, inputs=lambda rng: {"x": np.array([-np.inf, -1e30, -1.0, -0.0, 0.0, 1e-30, 2.0, 1e30, np.inf])}
        ),
    ),
    Check(
        "softmax-hidden-reference-outputs",
        points=2,
        title="Softmax matches reference outputs along every dimension, also for float64 input",
        hint="Normalize along self.dim for any number of dimensions (negative dims included) and return float32 for "
        "float64 inputs too.",
        probe="softmax_hidden_reference_outputs",
        fixture=Spec(
            seed=12,
            inputs=lambda rng: {
                "cube": f32(rng.standard_normal((3, 4, 5)) * 10),
                "x64": rng.standard_normal((4, 6)) * 50,
                "spread": f32([[0.0, -1000.0, 1000.0], [5.0, 5.0, 5.0], [-1000.0, -1000.0, -999.0]]),
            },
            rtol=1e-5,
            atol=1e-7,
        ),
    ),
)
