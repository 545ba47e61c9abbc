"""MLflow URIs in messages: every userinfo and every query value masked, over URL shapes."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sinefit.io import redact, tracking

SECRET = st.text(alphabet="abcXYZ019:/@%+!$&;=._~-", min_size=1, max_size=12).map(lambda s: "S3CRET" + s)
HOST = st.sampled_from(["host", "mlflow.example.com:5000", "127.0.0.1:8080", "[::1]:5000"])
PATH = st.sampled_from(["", "/", "/api", "/a/b/"])


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(["http", "https", "databricks", "postgresql+psycopg2", "mysql"]), user=SECRET,
       password=st.none() | SECRET, host=HOST, path=PATH,
       query=st.lists(st.tuples(st.sampled_from(["token", "key", "x"]), st.none() | SECRET), max_size=3))  # fmt: skip
def test_no_userinfo_or_query_value_survives(scheme, user, password, host, path, query):
    userinfo = user if password is None else f"{user}:{password}"
    q = "&".join(k if v is None else f"{k}={v}" for k, v in query)
    uri = f"{scheme}://{userinfo}@{host}{path}" + (f"?{q}" if query else "")
    shown = tracking.shown(uri)
    assert "S3CRET" not in shown, (uri, shown)
    assert shown.startswith(f"{scheme}://***@")
    assert host in shown or "@" in (password or "") + user + path  # the host stays, unless a secret hid it
    message = f"request to {uri} failed: bad credentials {userinfo}"
    assert "S3CRET" not in redact.in_text(message, uri)


def test_the_reported_shapes():
    assert tracking.shown("http://user:pa/ss@host") == "http://***@host"
    assert tracking.shown("http://user:p@ss@host/api") == "http://***@host/api"
    assert tracking.shown("http://TOKEN@host:5000") == "http://***@host:5000"
    assert tracking.shown("https://host/x?token=abc&page=2") == "https://host/x?token=***&page=***"
    assert tracking.shown("https://host/x?abc#frag") == "https://host/x?***#***"
    # nothing secret: unchanged
    for uri in ("sqlite:////tmp/m.db", "file:///home/me/mlruns", "http://localhost:5000", "databricks"):
        assert tracking.shown(uri) == uri
