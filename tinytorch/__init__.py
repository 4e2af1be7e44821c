"""Build a small PyTorch-like deep-learning library on NumPy, one notebook at a time

Modules:

- `tinytorch.core.activations`: The nonlinear functions that sit between layers: ReLU, a numerically stable Sigmoid, Tanh, and a Softmax that turns scores into probabilities along any dimension without overflowing. It also defines `Module`, the base class every piece of a TinyTorch network shares: called on a Tensor, asked for its parameters, switched between training and evaluation.
- `tinytorch.core.autograd`: Reverse-mode automatic differentiation on the `Tensor` you wrote: every operation that involves a Tensor with `requires_grad=True` records a node of a graph, and `loss.backward()` walks that graph once, from the loss back to the parameters, leaving each parameter's gradient in `.grad`. Tensor arithmetic, the activations, the losses and the layers of Modules 01-04 all become differentiable without rewriting any of them; `no_grad()` switches recording off so that inference runs exactly as fast as before.
- `tinytorch.core.layers`: Reusable building blocks on top of `Tensor`: the `Layer` contract, `Linear` (a learned `x @ W + b` with weights scaled by sqrt(1/in_features)), `Dropout` (inverted dropout that is the identity in evaluation mode) and `Sequential` (layers applied in order, with their parameters and their train/eval mode managed together).
- `tinytorch.core.losses`: The numbers that say how wrong a network is: `MSELoss` for regression, `CrossEntropyLoss` for choosing one class out of many (through a log-softmax that cannot overflow) and `BinaryCrossEntropyLoss` for yes/no answers (with probabilities clipped away from 0 and 1). Each loss is a `Module` that takes predictions and targets and returns their mean as a 0-d float32 Tensor.
- `tinytorch.core.tensor`: The `Tensor` class: the one type every TinyTorch layer takes and returns. It wraps a NumPy array, stores float32 unless told otherwise, reports its shape from its data, broadcasts `+ - * /` with numbers and arrays on either side, multiplies matrices with `@`, reduces with `sum`/`mean`, reshapes and transposes, and explains shape errors by naming the shapes involved."""

__version__ = "0.1.0"
