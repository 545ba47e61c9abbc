"""Remote data sets: a partitioned Parquet data set on a real S3-compatible server (moto's,
started here on 127.0.0.1), fitted through pyarrow's S3 filesystem. Oracle: the local copy."""

import numpy as np
import pytest

import sinefit
from sinefit.cli import main
from sinefit.io import datafiles, datasets

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install 'sinefit[s3test]')")
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'sinefit[s3test]')")


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on a free port of 127.0.0.1, stopped after the module."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def lake(s3, tmp_path, monkeypatch):
    """8 Parquet partitions (and Spark's _SUCCESS) uploaded to s3://lake/readings/, and a local copy."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", s3)):  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
    bucket = f"lake-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    client.create_bucket(Bucket=bucket)
    local = tmp_path / "readings"
    local.mkdir()
    rng = np.random.default_rng(4)
    for i in range(8):
        x = rng.uniform(0, 10, 500)
        y = np.sqrt(x) + 0.01 * rng.standard_normal(x.size)
        pq.write_table(pa.table({"t": x, "v": y}), local / f"part-{i:05d}.parquet", row_group_size=128)
        client.upload_file(str(local / f"part-{i:05d}.parquet"), bucket, f"readings/part-{i:05d}.parquet")
    client.put_object(Bucket=bucket, Key="readings/_SUCCESS", Body=b"")
    client.put_object(Bucket=bucket, Key="other/part-0.parquet", Body=b"not this one")
    return bucket, local


def test_an_s3_dataset_fits_as_its_local_copy(lake):
    bucket, local = lake
    settings = dict(columns="t,v", degree=4, basis="legendre", dtype="float64", optimizer="exact")
    want = sinefit.fit(data=str(local), **settings)
    for spec in (f"s3://{bucket}/readings/*.parquet", f"s3://{bucket}/readings"):
        got = sinefit.fit(data=spec, **settings)
        assert got.dataset.size == 4000
        assert got.dataset.domain == want.dataset.domain  # the min/max pre-pass ran remotely too
        np.testing.assert_allclose(got.model.coefficients, want.model.coefficients, rtol=1e-12, atol=1e-15)
    code = main(["fit", "--data", f"s3://{bucket}/readings/*.parquet", "--columns", "t,v", "--dtype", "float64",
                 "--optimizer", "exact", "--quiet", "--out", str(local.parent / "runs")])  # the README's command
    assert code == 0
    assert [p.name for p in datasets.partitions(f"s3://{bucket}/readings/")] == [
        f"s3://{bucket}/readings/part-{i:05d}.parquet" for i in range(8)]  # fmt: skip


def test_remote_errors_name_the_remote_file(lake, tmp_path, capsys):
    bucket, _ = lake
    with pytest.raises(datafiles.DataFileError, match=rf"^s3://{bucket}/other/part-0.parquet: not a valid Parquet"):
        list(datafiles.iter_chunks(f"s3://{bucket}/other/"))
    code = main(["fit", "--data", f"s3://{bucket}/nothing/*.parquet", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no data files" in err
