"""Writes the Parquet files of `tests/read_parquet.rs` that come from another writer than the
`parquet` crate's: pyarrow (Arrow C++). Run once, files committed:

    python3 -m venv /tmp/pa && /tmp/pa/bin/pip install pyarrow
    /tmp/pa/bin/python connectors/tests/data/make_pyarrow_parquet.py connectors/tests/data

Made with pyarrow 26.0.1. 300 rows each, row groups of 40 rows (8 groups).
"""

import sys

import pyarrow as pa
import pyarrow.parquet as pq

N = 300
table = pa.table(
    {
        "id": pa.array(range(N), pa.int64()),
        "name": pa.array([None if i % 7 == 3 else f"name-{i % 13}" for i in range(N)]),
        "score": pa.array([None if i % 4 == 0 else i / 3 for i in range(N)], pa.float64()),
        "tags": pa.array(
            [None if i % 5 == 0 else [f"t{j}" for j in range(i % 4)] for i in range(N)],
            pa.list_(pa.string()),
        ),
        "point": pa.array(
            [{"x": i, "y": None if i % 3 == 0 else i * 0.5} for i in range(N)],
            pa.struct([("x", pa.int32()), ("y", pa.float64())]),
        ),
    }
)
out = sys.argv[1]
# Dictionary pages (pyarrow's default) with snappy: each column chunk starts at its dictionary.
pq.write_table(table, f"{out}/pyarrow-snappy-dict.parquet", row_group_size=40, compression="snappy")
# No dictionaries, gzip, data pages v2.
pq.write_table(
    table,
    f"{out}/pyarrow-gzip-v2.parquet",
    row_group_size=40,
    compression="gzip",
    use_dictionary=False,
    data_page_version="2.0",
)
