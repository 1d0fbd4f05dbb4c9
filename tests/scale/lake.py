"""Helpers for the Parquet layout tests: compare a layout with a database, list files, local S3.

`s3_bucket` starts moto's S3 server on a free local port for a test module, points the AWS
variables at it (endpoint, fake credentials, region: nothing reaches AWS) and creates a bucket.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from costlab.scale import parquet_layout as layout
from costlab.scale.publish import RAW_TABLES


def differences(conn: duckdb.DuckDBPyConnection, root: str | Path, table: str) -> int:
    """Rows in the layout's table and not in the database's, plus the other way (multisets), over
    the stored columns (generated ones, e.g. allocation's total, are not in the layout)."""
    name = f"lake_{table}"
    layout.create_view(conn, layout.normalize_root(root), table, name=name)
    cols = ", ".join(f'"{c.name}"' for c in layout.columns_of(table))
    return conn.execute(
        f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM {name} EXCEPT ALL SELECT {cols} FROM {table})) "
        f"+ (SELECT count(*) FROM (SELECT {cols} FROM {table} EXCEPT ALL SELECT {cols} FROM {name}))"
    ).fetchone()[0]


def assert_layout_equals_database(
    conn: duckdb.DuckDBPyConnection, root: str | Path, tables=RAW_TABLES
) -> None:
    diff = {t: differences(conn, root, t) for t in tables}
    assert diff == {t: 0 for t in tables}


def local_files(root: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (inode, mtime_ns) of every file under root."""
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def s3_objects(bucket: str, prefix: str, *, markers: bool = False) -> dict[str, tuple[str, object]]:
    """key below prefix -> (ETag, LastModified) of every object; `dir/` markers if asked."""
    import boto3

    out = {}
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    for page in pages:
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/") and not markers:
                continue
            out[obj["Key"][len(prefix) :].lstrip("/")] = (obj["ETag"], obj["LastModified"])
    return out


AWS_VARS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def s3_bucket() -> Iterator[str]:
    """A bucket on a local moto S3 server; the AWS variables point at it for the module."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        for name, value in AWS_VARS.items():
            mp.setenv(name, value)
        mp.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        bucket = f"costlab-{uuid.uuid4().hex[:8]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        yield bucket
    server.stop()


def aws_env() -> dict[str, str]:
    """The environment for a subprocess that should reach the moto server."""
    return dict(os.environ)
