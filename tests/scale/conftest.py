"""One small Spark session (local[2]) for every scale test: Spark starts slowly, so it starts once."""

from __future__ import annotations

import pytest

from costlab.scale.spark_engine import spark_session


@pytest.fixture(scope="session")
def spark():
    session = spark_session("local[2]", app_name="costlab-tests")
    yield session
    session.stop()
