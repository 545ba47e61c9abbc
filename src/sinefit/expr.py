"""Target expressions over x, such as ``sin(x) + 0.1*x**2``, read safely.

The text comes from people (``--target``, ``--domain``, config files), so it is
never handed to ``eval``. It is parsed with :func:`ast.parse` and every node is
checked against an allowlist before anything is computed; anything not on the
list is refused with a one-line message that names the construct and its
column. Evaluation is done in torch on the dtype and device of x: numbers
become 0-dim float tensors, so ``9**9**9`` is ``inf`` rather than a Python
integer that takes forever to compute.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from sinefit import expr_scalar
from sinefit.errors import InputError

__all__ = [
    "FUNCTIONS",
    "NAMED_TARGETS",
    "Expression",
    "ExpressionError",
    "constant",
    "evaluate_target",
    "parse",
    "resolve",
]

MAX_LENGTH = 1000  # characters
MAX_PARENS = 50  # bracket depth, found by scanning before the parser sees the text
MAX_DEPTH = 100  # AST depth; chains like x+x+...+x nest without any parentheses


class ExpressionError(InputError):
    """A target expression or constant that sinefit refuses to read or use."""


def _sinc(t: torch.Tensor) -> torch.Tensor:
    # sin(t)/t directly rather than torch.sinc(t/pi): dividing by pi and
    # multiplying back loses accuracy near the zeros of sin.
    return torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)


def _step(t: torch.Tensor) -> torch.Tensor:
    # torch.heaviside maps nan to 0; keep nan so an undefined argument is reported.
    return torch.where(torch.isnan(t), t, (t >= 0).to(t.dtype))


def _gaussian(t: torch.Tensor) -> torch.Tensor:
    return torch.exp(-(t * t) / 2)


FUNCTIONS: dict[str, tuple[int, Callable[..., torch.Tensor]]] = {
    "sin": (1, torch.sin),
    "cos": (1, torch.cos),
    "tan": (1, torch.tan),
    "exp": (1, torch.exp),
    "log": (1, torch.log),
    "log2": (1, torch.log2),
    "log10": (1, torch.log10),
    "sqrt": (1, torch.sqrt),
    "abs": (1, torch.abs),
    "tanh": (1, torch.tanh),
    "sinh": (1, torch.sinh),
    "cosh": (1, torch.cosh),
    "asin": (1, torch.asin),
    "arcsin": (1, torch.asin),
    "acos": (1, torch.acos),
    "arccos": (1, torch.acos),
    "atan": (1, torch.atan),
    "arctan": (1, torch.atan),
    "sinc": (1, _sinc),
    "sign": (1, torch.sign),
    "step": (1, _step),
    "floor": (1, torch.floor),
    "ceil": (1, torch.ceil),
    "sigmoid": (1, torch.sigmoid),
    "erf": (1, torch.erf),
    "gaussian": (1, _gaussian),
    "min": (2, torch.minimum),
    "max": (2, torch.maximum),
}

NAMED_TARGETS: dict[str, str] = {
    "sin": "sin(x)",
    "cos": "cos(x)",
    "exp": "exp(x)",
    "tanh": "tanh(x)",
    "abs": "abs(x)",
    "sinc": "sinc(x)",
    "gaussian": "gaussian(x)",
    "step": "step(x)",
}

_CONSTANTS = {"pi": math.pi, "e": math.e}

_BINOPS: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}

_OTHER_OPERATORS = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}

# Refused node types named in words; anything else falls back to its class name.
_REFUSED = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Slice: "slice",
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator comprehension",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression",
    ast.NamedExpr: "assignment expression (walrus)",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.Starred: "starred expression",
    ast.Tuple: "tuple",
    ast.List: "list",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


def _constant_kind(value: object) -> str | None:
    """The refused kind of a literal in words, or None for a number we accept."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return None
    if isinstance(value, complex):
        return "complex number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes literal"
    if value is None:
        return "None"
    if value is Ellipsis:
        return "ellipsis"
    return type(value).__name__


# A number directly followed by a name or a parenthesis ("2x", "3 pi", "2(x+1)"): implicit multiplication.
_IMPLICIT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([A-Za-z_]\w*|\()")


def _close(name: str, names: list[str]) -> str | None:
    """The nearest allowed name, function or named target to a misspelt one ('sine' -> 'sin')."""
    pool = list(dict.fromkeys([*names, *FUNCTIONS, *NAMED_TARGETS]))
    prefixes = [c for c in pool if len(c) >= 3 and name.lower().startswith(c)]  # cosine -> cos, tangent -> tan
    if prefixes:
        return max(prefixes, key=len)
    match = difflib.get_close_matches(name.lower(), pool, n=1, cutoff=0.8)  # foo is not floor
    return match[0] if match else None


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


@dataclass(frozen=True)
class Expression:
    """A validated expression; call it on a float tensor x to evaluate it.

    Only :func:`parse` should build one: ``_tree`` is the checked AST, and
    evaluation walks it instead of ever reading ``text`` again.
    """

    text: str
    _tree: ast.expr = field(repr=False, compare=False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate elementwise on x, with x's shape, dtype and device (no finiteness check)."""
        if not x.is_floating_point():
            raise TypeError(f"expressions are evaluated on floating-point tensors, not {x.dtype}")
        y = _evaluate(self._tree, x)
        if y is x or y.shape != x.shape:
            y = y.expand(x.shape).clone()
        return y


def _evaluate(node: ast.expr, x: torch.Tensor) -> torch.Tensor:
    if isinstance(node, ast.Constant):
        return torch.tensor(float(node.value), dtype=x.dtype, device=x.device)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return x
        return torch.tensor(_CONSTANTS[node.id], dtype=x.dtype, device=x.device)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, x)
        return torch.neg(operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_evaluate(node.left, x), _evaluate(node.right, x))
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id][1](*(_evaluate(arg, x) for arg in node.args))
    raise TypeError(f"unvalidated {type(node).__name__} node")  # parse() never lets one through


class _Checker:
    """Walks a parsed expression and refuses anything off the allowlist."""

    def __init__(self, text: str, lead: int, option: str, allow_x: bool):
        self.text = text  # stripped, one line: ast offsets index into it
        self.lead = lead  # characters stripped from the front, for columns
        self.option = option
        self.allow_x = allow_x
        self.encoded = text.encode()

    def _char(self, byte_offset: int) -> int:
        # ast offsets count UTF-8 bytes; people count characters.
        if len(self.encoded) == len(self.text):
            return byte_offset
        return len(self.encoded[:byte_offset].decode("utf-8", "ignore"))

    def column(self, node: ast.AST) -> int:
        return self.lead + self._char(node.col_offset) + 1

    def source(self, node: ast.AST) -> str:
        return self.text[self._char(node.col_offset) : self._char(node.end_col_offset)]

    def allowed(self) -> str:
        names = "numbers, x, pi, e" if self.allow_x else "numbers, pi, e"
        return f"allowed: {names}, + - * / **, parentheses and the functions {', '.join(FUNCTIONS)}"

    def fail(self, message: str, column: int, hint: str | None = None) -> ExpressionError:
        tail = f"; {hint}" if hint else ""
        return ExpressionError(f"{self.option}: {message} (column {column}){tail}")

    def refuse(self, what: str, node: ast.AST) -> ExpressionError:
        return self.fail(f"{what} {_quote(self.source(node))} is not allowed", self.column(node), self.allowed())

    def check(self, node: ast.AST, depth: int = 1) -> None:
        if depth > MAX_DEPTH:
            raise self.fail(f"expression is nested too deeply (more than {MAX_DEPTH} levels)", self.column(node))
        if isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.Name):
            self._name(node)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                what = "boolean operator" if isinstance(node.op, ast.Not) else "bitwise operator"
                raise self.refuse(what, node)
            self.check(node.operand, depth + 1)
        elif isinstance(node, ast.BinOp):
            self._binop(node)
            self.check(node.left, depth + 1)
            self.check(node.right, depth + 1)
        elif isinstance(node, ast.Call):
            self._call(node, depth)
        elif isinstance(node, ast.Attribute):
            # Point at the dot: in a.b.c, the failing part is '.c'.
            dot = self.text.rfind(".", self._char(node.value.end_col_offset), self._char(node.end_col_offset))
            column = self.lead + max(dot, self._char(node.col_offset)) + 1
            raise self.fail(f"attribute access {_quote('.' + node.attr)} is not allowed", column, self.allowed())
        else:
            raise self.refuse(_REFUSED.get(type(node), type(node).__name__), node)

    def _constant(self, node: ast.Constant) -> None:
        kind = _constant_kind(node.value)
        if kind is not None:
            raise self.refuse(kind, node)
        # Checked here, not at evaluation, so parse() alone catches 1e400 and
        # 400-digit integers; float() on an int of at most 1000 digits is quick.
        try:
            finite = math.isfinite(float(node.value))
        except OverflowError:
            finite = False
        if not finite:
            raise self.fail(f"number {_quote(self.source(node))} is too large", self.column(node))

    def _name(self, node: ast.Name) -> None:
        names = ["x", "pi", "e"] if self.allow_x else ["pi", "e"]
        if node.id in names:
            return
        quoted = _quote(self.source(node))
        if node.id == "x":
            raise self.fail(f"{quoted} is not allowed here: a constant cannot depend on x", self.column(node))
        if node.id in FUNCTIONS:
            raise self.fail(f"function {quoted} must be called, as in {node.id}(x)", self.column(node))
        hint = f"allowed names: {', '.join(names)}"
        if node.id.lower() in names:
            hint = f"did you mean '{node.id.lower()}'? {hint}"
        elif (close := _close(node.id, names)) is not None:
            hint = f"did you mean '{close}'? {hint}"
        raise self.fail(f"unknown name {quoted}", self.column(node), hint)

    def _binop(self, node: ast.BinOp) -> None:
        if type(node.op) in _BINOPS:
            return
        symbol = _OTHER_OPERATORS.get(type(node.op), type(node.op).__name__)
        # The operator has no position of its own: it is the first character
        # between the operands that is not a bracket or a space.
        start = self._char(node.left.end_col_offset)
        gap = self.text[start : self._char(node.right.col_offset)]
        column = self.lead + start + len(gap) - len(gap.lstrip(" \t()")) + 1
        hint = "write ** for powers" if symbol == "^" else "allowed operators: + - * / **"
        raise self.fail(f"operator {_quote(symbol)} is not allowed", column, hint)

    def _call(self, node: ast.Call, depth: int) -> None:
        func = node.func
        if not isinstance(func, ast.Name):
            self.check(func, depth + 1)  # names the real culprit, e.g. attribute access
            hint = "only named functions can be called"
            if isinstance(func, ast.Constant):  # 2(x + 1)
                hint = f"write {self.source(func)}*(...): multiplication needs *"
            raise self.fail(f"calling {_quote(self.source(func))} is not allowed", self.column(node), hint)
        if func.id not in FUNCTIONS:
            quoted = _quote(self.source(func))
            what = f"{quoted} is not a function" if func.id in ("x", *_CONSTANTS) else f"unknown function {quoted}"
            hint = f"allowed functions: {', '.join(FUNCTIONS)}"
            close = _close(func.id, list(FUNCTIONS)) if func.id not in ("x", *_CONSTANTS) else None
            if close is not None:
                hint = f"did you mean '{close}'? {hint}"
            raise self.fail(what, self.column(func), hint)
        if node.keywords:
            raise self.refuse("keyword argument", node.keywords[0])
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.refuse("starred argument", arg)
        arity = FUNCTIONS[func.id][0]
        if len(node.args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            raise self.fail(
                f"{func.id}() takes {arity} {plural}, got {len(node.args)} in {_quote(self.source(node))}",
                self.column(node),
            )
        for arg in node.args:
            self.check(arg, depth + 1)


def _precheck(text: str, option: str, allow_x: bool) -> None:
    """Refuse what could make the parser slow or a message unreadable, before parsing."""
    if not isinstance(text, str):
        raise TypeError(f"expression text must be a str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{option}: expression is too long ({len(text)} characters; at most {MAX_LENGTH})")
    if not text.strip():
        example = "'sin(x) + 0.1*x**2'" if allow_x else "'-pi' or '2*pi'"
        raise ExpressionError(f"{option}: empty expression; expected something like {example}")
    depth = 0
    for i, char in enumerate(text):
        if not (char.isprintable() or char == "\t"):
            raise ExpressionError(f"{option}: non-printable character {ascii(char)} is not allowed (column {i + 1})")
        if not char.isascii():  # Python folds lookalikes (ｓｉｎ, ſin, Roman ⅹ) into names: refuse, never guess
            import unicodedata

            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise ExpressionError(
                f"{option}: character {char!r} ({name}) is not ASCII (column {i + 1}); expressions are "
                "ASCII only, so lookalike letters are never read as sin or x: type it plainly (pi for π)"
            )
        if char in "([{":
            depth += 1
            if depth > MAX_PARENS:
                raise ExpressionError(
                    f"{option}: too many nested parentheses (more than {MAX_PARENS}) (column {i + 1})"
                )
        elif char in ")]}":
            depth = max(0, depth - 1)


def parse(text: str, *, option: str = "--target", allow_x: bool = True) -> Expression:
    """Validate ``text`` completely and return it as an :class:`Expression`; nothing is evaluated.

    ``option`` starts every message, so it names what the person typed
    (``--target``, ``--domain``); ``allow_x=False`` reads a constant.
    """
    _precheck(text, option, allow_x)
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escapes in a string we refuse anyway
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        message = " ".join(str(exc.msg).split())
        if exc.offset:
            column = lead + exc.offset
        else:  # the parser ran out of input, e.g. "x +"
            message, column = f"{message} at the end", lead + len(stripped) + 1
        implicit = _IMPLICIT.search(stripped)
        if implicit is not None:  # 2x, 3pi, 2(x + 1): Python has no implicit multiplication
            a, b = implicit.group(1), implicit.group(2)
            message += f"; write {a}*{b} (multiplication needs *)"
        raise ExpressionError(f"{option}: not a valid expression: {message} (column {column})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{option}: expression is too complex to read") from None
    except ValueError as exc:
        raise ExpressionError(f"{option}: not a valid expression: {' '.join(str(exc).split())}") from None
    _Checker(stripped, lead, option, allow_x).check(tree.body)
    return Expression(stripped, tree.body)


def resolve(text: str) -> Expression:
    """A named target (``sin``, ``gaussian``, ...) or else an expression over x."""
    if isinstance(text, str) and text.strip() in NAMED_TARGETS:
        return parse(NAMED_TARGETS[text.strip()])
    return parse(text)


def evaluate_target(expr: Expression, x: torch.Tensor) -> torch.Tensor:
    """Evaluate ``expr`` on x and refuse a result that is not finite everywhere.

    A fit to inf or nan only fails later and obscurely, so the first offending
    x is named now, while the person can still change the domain. Long inputs are
    evaluated ``EVAL_CHUNK`` points at a time into one output, so a deep expression's
    temporaries stay a few MB whatever the number of points (elementwise: same numbers).
    """
    y = _chunked(expr, x)
    bad = ~torch.isfinite(y)
    if bool(bad.any()):
        i = int(bad.flatten().nonzero()[0])
        at, value = float(x.flatten()[i]), float(y.flatten()[i])
        raise ExpressionError(
            f"--target: {_quote(expr.text)} is not finite at x = {at:.6g} ({value:.6g}); "
            "choose a domain where it is defined"
        )
    return y


EVAL_CHUNK = 1 << 16  # points per piece of a long evaluation: each temporary is 512 kB in float64


def _chunked(expr: Expression, x: torch.Tensor) -> torch.Tensor:
    if x.dim() != 1 or x.numel() <= EVAL_CHUNK:
        return expr(x)
    out = None
    for start in range(0, x.numel(), EVAL_CHUNK):
        piece = x[start : start + EVAL_CHUNK]
        value = torch.broadcast_to(torch.as_tensor(expr(piece)), piece.shape)
        if out is None:
            out = torch.empty(x.shape, dtype=value.dtype, device=x.device)
        out[start : start + len(piece)] = value
    return out


def constant(text: str, *, option: str = "--domain") -> float:
    """Read a number such as ``-pi``, ``2*pi``, ``pi/2`` or ``1e-3`` with the same rules, without x."""
    if text.strip().lstrip("+-").lower() in ("nan", "inf", "infinity"):  # a value, not a name to look up
        raise ExpressionError(f"{option}: {text.strip()!r} is not a finite number; give finite "
                              f"{option.lstrip('-')} values")  # fmt: skip
    expr = parse(text, option=option, allow_x=False)
    value = float(expr(torch.zeros((), dtype=torch.float64)))
    if not math.isfinite(value):
        raise ExpressionError(f"{option}: {_quote(expr.text)} is not a finite number ({value:.6g})")
    exact = expr_scalar.value(expr._tree, _CONSTANTS)  # the same number on every CPU (see there)
    return value if exact is None else exact
