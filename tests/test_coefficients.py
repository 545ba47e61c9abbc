"""One Coefficients type everywhere: an array (highest power first) that reads by name, in the naming order."""

import pickle

import numpy as np
import pytest

import sinefit
from sinefit import fit
from sinefit.coefficients import Coefficients


@pytest.fixture(scope="module")
def seed():
    return fit(steps=50)


def test_one_type_for_fitted_initial_optimum_and_loaded(seed, tmp_path):
    from sinefit.io import modelfile

    (tmp_path / "m.json").write_text(__import__("json").dumps(modelfile.document(seed)))
    loaded = sinefit.load(tmp_path / "m.json")
    for c in (seed.coefficients, seed.initial.coefficients, seed.optimum.coefficients, loaded.coefficients,
              seed.trajectory[0][1].coefficients):
        assert type(c) is Coefficients
        assert c.names == ("a", "b", "c", "d")
    np.testing.assert_array_equal(loaded.coefficients, seed.coefficients)


def test_reads_by_name_and_as_an_array(seed):
    c, o = seed.coefficients, seed.optimum.coefficients
    raw = np.asarray(seed.model.coefficients)
    assert c["a"] == raw[0] and c["d"] == raw[3]
    assert c.keys() == ["a", "b", "c", "d"] and c.values() == list(raw)
    assert c == dict(zip("abcd", raw))  # equal to the dict it used to be
    gap = o - c  # arithmetic: a plain array, no names of its own
    assert type(gap) is np.ndarray
    np.testing.assert_array_equal(gap, np.asarray(o) - raw)
    assert type(c[1:]) is np.ndarray and c[0] == raw[0]
    assert "a" in c and "z" not in c
    with pytest.raises(KeyError, match="'z': no such coefficient"):
        c["z"]
    with pytest.raises(ValueError):
        c[0] = 1.0  # read-only: a result never changes under you
    assert repr(c).startswith("Coefficients(a=")
    again = pickle.loads(pickle.dumps(c))
    assert type(again) is Coefficients and again.names == c.names
    np.testing.assert_array_equal(again, c)


def test_ascending_names_run_from_the_constant_up():
    r = fit(steps=5, order="ascending", init="1,2,3,4")  # a + b x + c x^2 + d x^3
    c = r.initial.coefficients
    np.testing.assert_array_equal(c, [4.0, 3.0, 2.0, 1.0])  # the array: highest power first, always
    assert c.as_dict() == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    assert c["a"] == 1.0 and r.model.names == ["d", "c", "b", "a"]
    assert r.formula().startswith(f"{r.coefficients['a']:.6g} + ") and r.formula().endswith("x^3")
    legendre = fit(steps=1, basis="legendre", order="ascending", dtype="float64")
    assert legendre.coefficients.keys() == ["P0", "P1", "P2", "P3"]
