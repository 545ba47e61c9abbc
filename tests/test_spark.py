"""The README's Spark recipe: per-partition summaries with mapInArrow, merged on the driver.
Oracle: sinefit.summarize of all the points. Needs pyspark and Java; skipped without them."""

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark (with Java) is not installed: the Spark recipe is not run here")


def test_the_spark_recipe_gives_the_single_process_summary(monkeypatch):
    import sys

    import pyarrow as pa
    from pyspark.sql import SparkSession

    import sinefit

    # Spark's Python workers run `python3` from PATH unless told: this interpreter (with pyarrow and sinefit).
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    try:
        rng = np.random.default_rng(0)
        x = rng.uniform(-3, 3, 20_000)
        y = np.sin(x) + 0.1 * rng.standard_normal(x.size)
        df = spark.createDataFrame(pa.table({"x": x, "y": y}).to_pandas()).repartition(8)

        # --- the README's recipe, as printed there ---
        def summarize_batches(batches):
            s = None
            for b in batches:
                part = sinefit.summarize(b.column("x").to_numpy(zero_copy_only=False),
                                         b.column("y").to_numpy(zero_copy_only=False), "power", 3)
                s = part if s is None else s + part
            if s is not None:
                yield pa.RecordBatch.from_pylist([{"summary": s.to_bytes()}])

        rows = df.select("x", "y").mapInArrow(summarize_batches, "summary binary").collect()
        total = sinefit.merge(sinefit.Summary.from_bytes(r.summary) for r in rows)
        # ---
        want = sinefit.summarize(x, y, "power", 3)
        assert total.n == want.n
        got, ref = total.least_squares()[0], want.least_squares()[0]
        # normwise (as the Dask test and S2): a near-zero coefficient carries the others' absolute rounding
        assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.norm(ref)
    finally:
        spark.stop()
