"""Writes Parquet files with pyarrow, as other tools write them, for tests/read_other_tools.rs.

usage: python pyarrow_files.py DIR

Each file holds 6 rows. Prints nothing; the test reads what it expects from the files' names.
"""

import datetime
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def main():
    out = sys.argv[1]
    ids = pa.array(range(6), pa.int64())
    names = pa.array([f"name {i}" for i in range(6)])
    table = pa.table({"id": ids, "name": names})
    for codec in ["zstd", "brotli", "lz4", "snappy", "gzip", "none"]:
        pq.write_table(table, f"{out}/codec-{codec}.parquet", compression=codec)
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    instants = [start + datetime.timedelta(hours=i) for i in range(6)]
    for zone in ["UTC", "America/New_York"]:
        column = pa.array(instants, pa.timestamp("us", tz=zone))
        name = zone.replace("/", "_")
        pq.write_table(pa.table({"id": ids, "at": column}), f"{out}/zone-{name}.parquet")
    keys = pa.array([[(i, f"v{i}")] for i in range(6)], pa.map_(pa.int32(), pa.string()))
    pq.write_table(pa.table({"id": ids, "m": keys}), f"{out}/map-int-keys.parquet")


if __name__ == "__main__":
    main()
