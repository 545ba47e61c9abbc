"""Model expressions over x and named parameters, such as ``a*exp(-b*x) + c``.

The text is read by the same allowlist interpreter as ``--target`` (``sinefit.expr``):
parsed with :func:`ast.parse`, every node checked before anything is computed,
never handed to ``eval``. What differs: a name that is not x, pi, e or a function
is a *parameter*, and the Legendre polynomials are available, as ``P0(t)`` ...
``P5(t)`` or ``legendre(n, t)`` (n a whole number up to 50), so that the PyTorch
tutorial's model ``a + b*P3(c + d*x)`` can be written.

Evaluation is batched: ``model(theta, x)`` takes parameters of shape (..., p) and
x of shape (n,) and returns (..., n); it uses torch operations only, so autograd
and ``torch.func`` (jacfwd, vmap) differentiate it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import torch

from .. import expr
from ..expr import FUNCTIONS, ExpressionError

OPTION = "--model"
MAX_PARAMETERS = 64
MAX_LEGENDRE = 50
_PARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def legendre(n: int, t: torch.Tensor, num=None) -> torch.Tensor:
    """P_n(t). Degrees 0-5 in closed form (P3 as the tutorial writes it, 0.5 (5 t^3 - 3 t)),
    higher ones by Bonnet's recurrence (k + 1) P_{k+1} = (2k + 1) t P_k - k P_{k-1}.

    ``num`` makes the numbers (Python numbers by default, the tutorial's arithmetic; lifted
    tensors under forward-mode differentiation)."""
    c = num or _same
    if n == 0:
        return t * c(0.0) + c(1.0)
    if n == 1:
        return t
    if n == 2:
        return c(0.5) * (c(3) * t**2 - c(1))
    if n == 3:
        return c(0.5) * (c(5) * t**3 - c(3) * t)
    if n == 4:
        return (c(35) * t**4 - c(30) * t**2 + c(3)) / c(8)
    if n == 5:
        return (c(63) * t**5 - c(70) * t**3 + c(15) * t) / c(8)
    previous, current = legendre(4, t, num), legendre(5, t, num)
    for k in range(5, n):
        previous, current = current, (c(2 * k + 1) * t * current - c(k) * previous) / c(k + 1)
    return current


LEGENDRE_SHORT = {f"P{n}": n for n in range(6)}  # P0(t) ... P5(t)
MODEL_FUNCTIONS = (*FUNCTIONS, *LEGENDRE_SHORT, "legendre")


@dataclass(frozen=True)
class Model:
    """A validated model expression; ``parameters`` in order of first appearance."""

    text: str
    parameters: tuple[str, ...]
    _tree: ast.expr = field(repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.parameters)

    def __call__(self, theta: torch.Tensor, x: torch.Tensor, lift=None) -> torch.Tensor:
        """The model at x (n,) for every row of theta (..., p): shape (..., n).

        ``lift`` maps each constant (a 0-dim tensor) before use: forward-mode differentiation
        passes one that gives it a zero tangent, since an operation between a dual tensor and
        a plain one takes a slow path in torch (its zero tangent is decomposed in Python).
        """
        if theta.shape[-1] != self.size:
            raise ValueError(f"{self.text}: expected {self.size} parameters, got shape {tuple(theta.shape)}")
        values = {name: theta[..., i, None] for i, name in enumerate(self.parameters)}
        y = _evaluate(self._tree, x, values, lift or _same)
        shape = (*theta.shape[:-1], x.shape[-1])
        return y if y.shape == shape else y.expand(shape)

    def formula(self, values, digits: int = 6) -> str:
        """The expression with the parameters' values written in, for people."""
        names = dict(zip(self.parameters, values))

        class Fill(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:
                if node.id in names:
                    return ast.Constant(float(f"{float(names[node.id]):.{digits}g}"))
                return node

        return ast.unparse(Fill().visit(ast.parse(self.text, mode="eval"))).replace("+ -", "- ")


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def _is_constant(node: ast.expr) -> bool:
    """No x and no parameter below this node: only numbers, pi and e."""
    return all(not isinstance(n, ast.Name) or n.id in ("pi", "e") for n in ast.walk(node))


def _evaluate(node: ast.expr, x: torch.Tensor, values: dict[str, torch.Tensor], lift) -> torch.Tensor:
    if isinstance(node, ast.Name):
        if node.id in values:
            return values[node.id]
        return x if node.id == "x" else lift(expr._evaluate(node, x))
    if isinstance(node, ast.Constant):
        return lift(torch.tensor(float(node.value), dtype=x.dtype, device=x.device))
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, x, values, lift)
        return torch.neg(operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, x, values, lift)
        if isinstance(node.op, ast.Pow) and _is_constant(node.right):
            # A constant exponent as a Python number: no derivative with respect to it is formed
            # (forward mode would compute log(base) * 0, NaN for a negative base), and torch's
            # integer powers are exact and fast.
            power = float(expr._evaluate(node.right, x.detach()))
            return torch.pow(left, int(power) if power.is_integer() and abs(power) < 2**31 else power)
        return expr._BINOPS[type(node.op)](left, _evaluate(node.right, x, values, lift))
    if isinstance(node, ast.Call):
        name = node.func.id
        num = None if lift is _same else (lambda v: lift(torch.tensor(float(v), dtype=x.dtype, device=x.device)))
        if name in LEGENDRE_SHORT:
            return legendre(LEGENDRE_SHORT[name], _evaluate(node.args[0], x, values, lift), num)
        if name == "legendre":
            return legendre(int(node.args[0].value), _evaluate(node.args[1], x, values, lift), num)
        return FUNCTIONS[name][1](*(_evaluate(arg, x, values, lift) for arg in node.args))
    raise TypeError(f"unvalidated {type(node).__name__} node")  # parse() never lets one through


class _ModelChecker(expr._Checker):
    """The target checker, with parameters and the Legendre functions."""

    def __init__(self, text: str, lead: int):
        super().__init__(text, lead, OPTION, allow_x=True)
        self.parameters: list[str] = []
        self.uses_x = False

    def allowed(self) -> str:
        return (
            "allowed: numbers, x, pi, e, parameter names, + - * / **, parentheses and the functions "
            f"{', '.join(FUNCTIONS)}, P0 ... P5 and legendre(n, t)"
        )

    def _name(self, node: ast.Name) -> None:
        if node.id == "x":
            self.uses_x = True
            return
        if node.id in ("pi", "e"):
            return
        quoted = expr._quote(self.source(node))
        if node.id in MODEL_FUNCTIONS:
            raise self.fail(
                f"{quoted} is a function, not a parameter: call it, as in {node.id}(x), or name the parameter "
                "otherwise",
                self.column(node),
            )
        if not _PARAMETER_NAME.match(node.id):
            raise self.fail(f"parameter name {quoted} must be letters, digits and _, starting with a letter",
                            self.column(node))  # fmt: skip
        if node.id not in self.parameters:
            self.parameters.append(node.id)

    def _call(self, node: ast.Call, depth: int) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in LEGENDRE_SHORT:
            if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
                raise self.fail(f"{func.id}() takes 1 argument, as in {func.id}(x)", self.column(node))
            self.check(node.args[0], depth + 1)
            return
        if isinstance(func, ast.Name) and func.id == "legendre":
            args = node.args
            if node.keywords or len(args) != 2 or any(isinstance(a, ast.Starred) for a in args):
                raise self.fail("legendre() takes 2 arguments, as in legendre(3, x)", self.column(node))
            n = args[0]
            ok = isinstance(n, ast.Constant) and type(n.value) is int and 0 <= n.value <= MAX_LEGENDRE
            if not ok:
                raise self.fail(
                    f"legendre(n, t): n must be a whole number from 0 to {MAX_LEGENDRE}, got "
                    f"{expr._quote(self.source(n))}",
                    self.column(n),
                )
            self.check(args[1], depth + 1)
            return
        if isinstance(func, ast.Name) and func.id not in FUNCTIONS and _PARAMETER_NAME.match(func.id):
            hint = f"allowed functions: {', '.join(MODEL_FUNCTIONS)}"
            what = (f"{expr._quote(func.id)} is not a function" if func.id in ("x", "pi", "e")
                    else f"unknown function {expr._quote(func.id)}")  # fmt: skip
            raise self.fail(what + " (write * for a product, as in a*(x + 1))", self.column(func), hint)
        super()._call(node, depth)


def parse(text: str) -> Model:
    """Validate ``text`` completely and return it as a :class:`Model`; nothing is evaluated.

    Refused: anything ``--target`` refuses, a parameter named like a function, a model
    without x or without parameters, more than ``MAX_PARAMETERS`` parameters.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"{OPTION}: must be text, got {text!r}")
    expr._precheck(text, OPTION, True)
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        message = " ".join(str(exc.msg).split())
        column = lead + exc.offset if exc.offset else lead + len(stripped) + 1
        raise ExpressionError(f"{OPTION}: not a valid expression: {message} (column {column})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"{OPTION}: expression is too complex to read") from None
    checker = _ModelChecker(stripped, lead)
    checker.check(tree.body)
    quoted = expr._quote(stripped)
    if not checker.uses_x:
        raise ExpressionError(f"{OPTION}: {quoted} does not use x; a model is a function of x, as in 'a*exp(-b*x)'")
    if not checker.parameters:
        raise ExpressionError(
            f"{OPTION}: {quoted} has no parameters to fit; name them, as in 'a*exp(-b*x) + c' (use --target for a "
            "fixed function)"
        )
    if len(checker.parameters) > MAX_PARAMETERS:
        raise ExpressionError(f"{OPTION}: {len(checker.parameters)} parameters; at most {MAX_PARAMETERS}")
    return Model(stripped, tuple(checker.parameters), tree.body)
