"""The seed's loop, written out literally: the oracle the default fit must match.

Nothing here comes from sinefit; it is the blog post's code as the seed README
describes it, with the print turned into a returned list.
"""

import math

import torch


def seed_loop(seed: int = 0, steps: int = 2000, learning_rate: float = 1e-6):
    x = torch.linspace(-math.pi, math.pi, 1000)
    y = torch.sin(x)

    torch.manual_seed(seed)
    a = torch.randn(())
    b = torch.randn(())
    c = torch.randn(())
    d = torch.randn(())

    printed = []
    for t in range(steps):
        y_pred = a * x**3 + b * x**2 + c * x + d
        loss = (y_pred - y).pow(2).sum().item()
        if t % 100 == 99:
            printed.append((t, loss))

        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = (grad_y_pred * x**3).sum()
        grad_b = (grad_y_pred * x**2).sum()
        grad_c = (grad_y_pred * x).sum()
        grad_d = grad_y_pred.sum()

        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d

    return printed, [a.item(), b.item(), c.item(), d.item()]
