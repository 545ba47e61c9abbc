"""The README's Spark recipe: per-partition summaries with mapInArrow, merged on the driver.
Oracle: sinefit.summarize of all the points. Needs pyspark and Java; skipped without them."""

import os
import shutil
import sys

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark (with Java) is not installed: the Spark recipe is not run here")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not installed (pyspark needs it): the Spark recipe is not run here", allow_module_level=True)


def test_the_spark_recipe_gives_the_single_process_summary():
    import pyarrow as pa
    from pyspark.sql import SparkSession

    import sinefit

    # Spark's Python workers run this interpreter (not whatever python3 is first on PATH, which may lack pyarrow).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.pyspark.python", sys.executable).getOrCreate())  # fmt: skip
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
        theta, want_theta = total.least_squares()[0], want.least_squares()[0]
        assert np.linalg.norm(theta - want_theta) <= 1e-12 * np.linalg.norm(want_theta)  # normwise, as S2
    finally:
        spark.stop()
