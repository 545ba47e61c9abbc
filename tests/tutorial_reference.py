"""The PyTorch tutorial's polynomial scripts ("Learning PyTorch with Examples"), written out literally.

Each function is the script's loop as the tutorial prints it, with ``torch.manual_seed`` /
``np.random.seed`` added before the draws (the tutorial leaves them unseeded) and the prints
turned into a returned list of (t, loss) at t % 100 == 99 and the final coefficients a, b, c, d of
y = a + b x + c x^2 + d x^3. Nothing here comes from sinefit: these are the oracles.
"""

import math

import numpy as np
import torch


def polynomial_numpy(seed=0, steps=2000):
    np.random.seed(seed)
    x = np.linspace(-math.pi, math.pi, 2000)
    y = np.sin(x)
    a = np.random.randn()
    b = np.random.randn()
    c = np.random.randn()
    d = np.random.randn()
    learning_rate = 1e-6
    printed = []
    for t in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = np.square(y_pred - y).sum()
        if t % 100 == 99:
            printed.append((t, float(loss)))
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x**2).sum()
        grad_d = (grad_y_pred * x**3).sum()
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d
    return printed, [float(a), float(b), float(c), float(d)]


def polynomial_tensor(seed=0, steps=2000):
    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    torch.manual_seed(seed)
    a = torch.randn((), dtype=dtype)
    b = torch.randn((), dtype=dtype)
    c = torch.randn((), dtype=dtype)
    d = torch.randn((), dtype=dtype)
    learning_rate = 1e-6
    printed = []
    for t in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum().item()
        if t % 100 == 99:
            printed.append((t, loss))
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x**2).sum()
        grad_d = (grad_y_pred * x**3).sum()
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d
    return printed, [a.item(), b.item(), c.item(), d.item()]


def polynomial_autograd(seed=0, steps=2000):
    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    torch.manual_seed(seed)
    a = torch.randn((), dtype=dtype, requires_grad=True)
    b = torch.randn((), dtype=dtype, requires_grad=True)
    c = torch.randn((), dtype=dtype, requires_grad=True)
    d = torch.randn((), dtype=dtype, requires_grad=True)
    learning_rate = 1e-6
    printed = []
    for t in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            printed.append((t, loss.item()))
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return printed, [a.item(), b.item(), c.item(), d.item()]


def _nn_model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))


def _nn_result(model):
    layer = model[0]
    return [layer.bias.item(), layer.weight[:, 0].item(), layer.weight[:, 1].item(), layer.weight[:, 2].item()]


def polynomial_nn(seed=0, steps=2000):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = _nn_model(seed)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    learning_rate = 1e-6
    printed = []
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            printed.append((t, loss.item()))
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    return printed, _nn_result(model)


def polynomial_optim(seed=0, steps=2000):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = _nn_model(seed)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    learning_rate = 1e-3
    optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
    printed = []
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            printed.append((t, loss.item()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return printed, _nn_result(model)


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x**2 + self.d * x**3


def polynomial_module(seed=0, steps=2000):
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    torch.manual_seed(seed)
    model = Polynomial3()
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    printed = []
    for t in range(steps):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        if t % 100 == 99:
            printed.append((t, loss.item()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return printed, [model.a.item(), model.b.item(), model.c.item(), model.d.item()]
