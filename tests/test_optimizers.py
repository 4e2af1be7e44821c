"""Package tests for tinytorch.core.optimizers: SGD (momentum, weight decay), Adam and AdamW.

Expected trajectories are computed here in float64 NumPy from the update rules as torch.optim documents them
(written independently of the package: Adam with separate bias-corrected m_hat and v_hat), with gradients set by
hand. The optimizers compute in float32; a step is a handful of float32 operations on values of size about 1, each
rounding by at most 2**-24 relative, so after tens of steps the parameters stay within a few hundred roundings of the
float64 trajectory (ATOL 1e-5 on parameters of size about 1). Gradients from autograd are read back from `.grad` and
used as they are, so those tests compare the step, not the gradient.
"""

import numpy as np
import pytest
from conftest import FAST
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import tinytorch.core.autograd  # noqa: F401  installs .grad and backward()
from tinytorch.core.layers import Linear
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.tensor import Tensor

ATOL = 1e-5
STEPS = 12
moderate32 = st.floats(-10, 10, width=32, allow_subnormal=False)


def gradients(shape: tuple, steps: int = STEPS, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(steps)]


def sgd_by_hand(p, grads, lr, momentum=0.0, weight_decay=0.0):
    """torch.optim.SGD's rule in float64 (dampening 0, no Nesterov): p after each step."""
    p, buffer, path = np.array(p, dtype=np.float64), None, []
    for g in grads:
        d = np.asarray(g, dtype=np.float64) + weight_decay * p
        if momentum:
            buffer = d if buffer is None else momentum * buffer + d
            d = buffer
        p = p - lr * d
        path.append(p)
    return path


def adam_by_hand(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    """torch.optim.Adam's rule (AdamW's with `decoupled`) in float64, with bias-corrected m_hat, v_hat."""
    (beta1, beta2), p, m, v, path = betas, np.array(p, dtype=np.float64), 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, dtype=np.float64)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        path.append(p)
    return path


def follow(opt, param: Tensor, grads) -> list[np.ndarray]:
    """Step `opt` with each gradient in turn as param's grad; param's data after each step."""
    path = []
    for g in grads:
        param.grad = Tensor(g)
        opt.step()
        assert param.dtype == np.float32
        path.append(param.data.copy())
    return path


def assert_same_path(got, expected, what: str) -> None:
    assert len(got) == len(expected)
    for step, (a, b) in enumerate(zip(got, expected, strict=True), start=1):
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL, err_msg=f"{what}, step {step}")


# --------------------------------------------------------------------------- trajectories against the rules


@pytest.mark.parametrize(
    "options",
    [{}, {"momentum": 0.9}, {"weight_decay": 0.1}, {"momentum": 0.5, "weight_decay": 0.3}],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain",
)
def test_sgd_follows_torchs_rule(options):
    start, grads = np.array([[1.0, -2.0, 0.5]], dtype=np.float32), gradients((1, 3))
    param = Tensor(start.copy())  # Tensor() keeps a float32 array as it is, and the steps change it in place
    path = follow(SGD([param], lr=0.05, **options), param, grads)
    assert_same_path(path, sgd_by_hand(start, grads, 0.05, **options), f"SGD({options})")


def test_sgd_three_steps_by_hand():
    # lr 0.1, momentum 0.9, weight decay 0.1 from [1, -2] (worked out in the notebook's test):
    # d1 = [0.6, 0.8] = buffer;  d2 = [-0.906, 1.792], buffer [-0.366, 2.512];  d3 = [0.09766, -4.23312],
    # buffer [-0.23174, -1.97232].
    param = Tensor([1.0, -2.0])
    opt = SGD([param], lr=0.1, momentum=0.9, weight_decay=0.1)
    path = follow(opt, param, [[0.5, 1.0], [-1.0, 2.0], [0.0, -4.0]])
    np.testing.assert_allclose(path, [[0.94, -2.08], [0.9766, -2.3312], [0.999774, -2.133968]], atol=1e-6)
    np.testing.assert_allclose(opt.state[param]["momentum_buffer"], [-0.23174, -1.97232], atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [{}, {"weight_decay": 0.1}, {"betas": (0.5, 0.9)}, {"eps": 0.1}, {"betas": (0.0, 0.0)}],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults",
)
def test_adam_follows_torchs_rule(options):
    start, grads = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32), gradients((4,), seed=1)
    param = Tensor(start.copy())
    path = follow(Adam([param], lr=0.05, **options), param, grads)
    assert_same_path(path, adam_by_hand(start, grads, 0.05, **options), f"Adam({options})")


@pytest.mark.parametrize("weight_decay", [0.01, 0.5])
def test_adamw_follows_torchs_rule(weight_decay):
    start, grads = np.array([1.0, -2.0, 0.5], dtype=np.float32), gradients((3,), seed=2)
    param = Tensor(start.copy())
    path = follow(AdamW([param], lr=0.05, weight_decay=weight_decay), param, grads)
    expected = adam_by_hand(start, grads, 0.05, weight_decay=weight_decay, decoupled=True)
    assert_same_path(path, expected, f"AdamW(weight_decay={weight_decay})")


def test_adams_first_step_moves_every_coordinate_by_lr_against_its_sign():
    # m_hat = g and v_hat = g**2 at t = 1: the step is lr * g / (|g| + eps).
    g = np.array([3.0, -1e-3, 250.0, -7.0], dtype=np.float32)
    param = Tensor(np.zeros(4))
    follow(Adam([param], lr=0.01), param, [g])
    np.testing.assert_allclose(param.data, -0.01 * np.sign(g), rtol=1e-5)


def test_adam_and_adamw_decay_differently_under_a_zero_gradient():
    # AdamW: moments stay 0, only the shrink p (1 - lr wd)^t. Adam: the decay is the gradient, normalized to ~lr.
    zeros = [np.zeros(2, dtype=np.float32)] * 3
    decoupled, coupled = Tensor([1.0, -2.0]), Tensor([1.0, -2.0])
    follow(AdamW([decoupled], lr=0.1, weight_decay=0.5), decoupled, zeros)
    follow(Adam([coupled], lr=0.1, weight_decay=0.5), coupled, zeros)
    np.testing.assert_allclose(decoupled.data, np.array([1.0, -2.0]) * 0.95**3, rtol=1e-6)
    np.testing.assert_allclose(coupled.data, adam_by_hand([1.0, -2.0], zeros, 0.1, weight_decay=0.5)[-1], atol=1e-6)
    assert abs(1.0 - coupled.data[0]) > 0.25 > abs(1.0 - decoupled.data[0]) > 0.1


def test_a_step_against_autograds_gradient_is_p_minus_lr_grad():
    rng = np.random.default_rng(3)
    layer = Linear(3, 2)
    MSELoss()(layer(Tensor(rng.standard_normal((5, 3)))), rng.standard_normal((5, 2))).backward()
    expected = [p.data.astype(np.float64) - 0.05 * p.grad.data for p in layer.parameters()]
    SGD(layer.parameters(), lr=0.05).step()
    for param, want in zip(layer.parameters(), expected, strict=True):
        np.testing.assert_allclose(param.data, want, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- parameters, state, skipping


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps), lambda ps: AdamW(ps)])
def test_state_is_created_at_a_parameters_first_step_and_only_for_parameters_with_a_gradient(make):
    trained, idle = Tensor([1.0, 2.0]), Tensor([3.0])
    opt = make(p for p in [trained, idle])
    assert opt.params == [trained, idle] or all(a is b for a, b in zip(opt.params, [trained, idle], strict=True))
    assert opt.state == {}
    follow(opt, trained, gradients((2,), steps=2))
    assert set(opt.state) == {trained}
    np.testing.assert_array_equal(idle.data, [3.0])


def test_plain_sgd_keeps_no_state():
    param = Tensor([1.0])
    opt = SGD([param], lr=0.1)
    follow(opt, param, gradients((1,), steps=3))
    assert not any(opt.state.values())


def test_adam_counts_each_parameters_steps_on_its_own():
    always, sometimes = Tensor([1.0, -1.0]), Tensor([0.5])
    opt = Adam([always, sometimes], lr=0.1)
    grads = gradients((2,), steps=5, seed=4)
    taken = []
    for t, g in enumerate(grads):
        always.grad = Tensor(g)
        sometimes.grad = Tensor(g[:1]) if t % 2 == 0 else None
        opt.step()
        if t % 2 == 0:
            taken.append(g[:1])
    assert (opt.state[always]["step"], opt.state[sometimes]["step"]) == (5, 3)
    np.testing.assert_allclose(sometimes.data, adam_by_hand([0.5], taken, 0.1)[-1], atol=1e-6)


def test_zero_grad_sets_every_gradient_to_none_every_time_even_from_a_generator():
    params = [Tensor(np.ones((2, 2))), Tensor(np.ones(3))]
    opt = SGD((p for p in params), lr=0.1)
    for _ in range(2):
        for p in params:
            p.grad = Tensor(np.ones(p.shape))
        opt.zero_grad()
        assert all(p.grad is None for p in params)


@given(
    start=arrays(np.float32, array_shapes(max_dims=3, max_side=4), elements=moderate32),
    momentum=st.sampled_from([0.0, 0.9]),
)
@FAST
def test_sgd_with_lr_zero_leaves_parameters_unchanged(start, momentum):
    param = Tensor(start.copy())
    follow(SGD([param], lr=0.0, momentum=momentum), param, [np.ones_like(start)] * 3)
    np.testing.assert_array_equal(param.data, start)


@given(start=arrays(np.float32, array_shapes(max_dims=3, max_side=4), elements=moderate32))
@FAST
def test_a_parameter_whose_grad_is_none_never_moves(start):
    frozen, trained = Tensor(start.copy()), Tensor(np.ones(2))
    both = [frozen, trained]
    for opt in (SGD(both, lr=0.1, momentum=0.9, weight_decay=0.1), Adam(both, weight_decay=0.1), AdamW(both)):
        follow(opt, trained, gradients((2,), steps=2))
        assert frozen not in opt.state
    np.testing.assert_array_equal(frozen.data, start)


@given(
    gradient=arrays(np.float32, 5, elements=st.floats(-1e3, 1e3, width=32).filter(lambda x: abs(x) > 1e-3)),
    lr=st.floats(1e-4, 1.0),
)
@FAST
def test_adams_step_is_bounded_by_about_lr_whatever_the_gradients_size(gradient, lr):
    param = Tensor(np.zeros(5))
    opt = Adam([param], lr=lr)
    follow(opt, param, [gradient, gradient * 100, gradient / 100])
    # With m = sum w_i g_i and v = sum u_i g_i^2, Cauchy-Schwarz gives |m_hat| / sqrt(v_hat) <=
    # sqrt(sum w_i^2 / u_i) sqrt(1 - beta2^t) / (1 - beta1^t), at most 1.004 for t <= 3 with the default betas.
    assert np.all(np.abs(param.data) <= 3 * 1.01 * lr)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("build", "error", "names"),
    [
        (lambda: SGD([], lr=0.1), ValueError, ["empty"]),
        (lambda: Adam(p for p in []), ValueError, ["empty"]),
        (lambda: SGD([Tensor([1.0]), np.ones(2)], lr=0.1), TypeError, ["parameter 1", "ndarray", "Tensor"]),
        (lambda: SGD([Tensor([1.0])], lr=-0.1), ValueError, ["lr=-0.1", ">= 0"]),
        (lambda: SGD([Tensor([1.0])], lr=float("nan")), ValueError, ["lr=nan"]),
        (lambda: SGD([Tensor([1.0])], lr=0.1, weight_decay=-1.0), ValueError, ["weight_decay=-1.0"]),
        (lambda: SGD([Tensor([1.0])], lr=0.1, momentum=-0.5), ValueError, ["momentum=-0.5"]),
        (lambda: Adam([Tensor([1.0])], betas=(1.0, 0.999)), ValueError, ["betas[0]=1.0", "[0, 1)"]),
        (lambda: Adam([Tensor([1.0])], betas=(0.9, -0.1)), ValueError, ["betas[1]=-0.1", "[0, 1)"]),
        (lambda: AdamW([Tensor([1.0])], eps=-1e-8), ValueError, ["eps=-1e-08"]),
    ],
    ids=["empty", "empty-generator", "ndarray", "lr", "nan-lr", "weight-decay", "momentum", "beta1", "beta2", "eps"],
)
def test_bad_arguments_raise_errors_that_say_what_was_expected(build, error, names):
    with pytest.raises(error) as raised:
        build()
    assert all(name in str(raised.value) for name in names), str(raised.value)


def test_lr_zero_and_no_decay_are_allowed():
    param = Tensor([1.0])
    assert SGD([param], lr=0.0).lr == 0.0
    assert Optimizer([param], {"lr": 0.1}).state == {}
    assert repr(AdamW([param])) == "AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)"
