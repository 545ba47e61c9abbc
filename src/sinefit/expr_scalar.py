"""Constant expressions (no x) in Python floats, through the math module.

A constant such as ``--domain 0,sqrt(2)`` must be the same number on every machine. torch's
float64 functions on the CPU go through MKL's vector math, which on Intel processors may be an
ulp away from the correctly rounded value: there ``torch.sqrt(torch.tensor(2.))`` is
1.414213562373095, where ``math.sqrt(2)`` (IEEE sqrt, correctly rounded by definition) is
1.4142135623730951, so one command gave other end points, and other fits, on other CPUs.

The math module's functions are the C library's (sqrt correctly rounded, the others within an
ulp and the same on every x86-64 machine with the same libm). :func:`value` walks the tree that
:func:`sinefit.expr.parse` checked, and gives up (returns None) wherever Python floats and torch
could disagree by more than rounding: a domain error, an overflow, a complex power, any
intermediate that is not a finite real. The caller then keeps torch's value, whose nan and inf
it refuses anyway.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping


def _sinc(t: float) -> float:
    return 1.0 if t == 0 else math.sin(t) / t  # as expr._sinc: sin(t)/t, not sinc(t/pi)


def _sign(t: float) -> float:
    return math.copysign(1.0, t) if t else t


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def _gaussian(t: float) -> float:
    return math.exp(-(t * t) / 2)


FUNCTIONS: dict[str, Callable[..., float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "sqrt": math.sqrt,
    "abs": math.fabs,
    "tanh": math.tanh,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "asin": math.asin,
    "arcsin": math.asin,
    "acos": math.acos,
    "arccos": math.acos,
    "atan": math.atan,
    "arctan": math.atan,
    "sinc": _sinc,
    "sign": _sign,
    "step": lambda t: float(t >= 0),
    "floor": lambda t: float(math.floor(t)),
    "ceil": lambda t: float(math.ceil(t)),
    "sigmoid": _sigmoid,
    "erf": math.erf,
    "gaussian": _gaussian,
    "min": min,
    "max": max,
}

_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


class _GiveUp(Exception):
    """Python floats cannot give this value the way torch would: keep torch's."""


def _finite(v: object) -> float:
    if not isinstance(v, float) or not math.isfinite(v):  # complex from (-8)**(1/3), or inf/nan
        raise _GiveUp
    return v


def _walk(node: ast.expr, constants: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return _finite(float(node.value))
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _walk(node.operand, constants)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _finite(_BINOPS[type(node.op)](_walk(node.left, constants), _walk(node.right, constants)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        return _finite(FUNCTIONS[node.func.id](*(_walk(arg, constants) for arg in node.args)))
    raise _GiveUp  # x, or a node parse() would not have let through


def value(tree: ast.expr, constants: Mapping[str, float]) -> float | None:
    """The constant expression's value in Python floats, or None where they cannot match torch."""
    try:
        return _walk(tree, constants)
    except (_GiveUp, ArithmeticError, ValueError, TypeError):  # log(0), exp(1e3), 1/0, ...
        return None
