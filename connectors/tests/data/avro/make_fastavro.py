"""Writes the fastavro fixtures of connectors/tests/read_avro_fastavro.rs.

Files written by Python's fastavro (another implementation than the Rust reference), with a
small sync interval so each has many blocks, and next to each the records as JSON lines in the
form `sdf_connectors::avro::to_json` gives (sorted keys, bytes as arrays of numbers).

    python3 -m venv /tmp/fastavro && /tmp/fastavro/bin/pip install fastavro==1.13.1
    /tmp/fastavro/bin/python connectors/tests/data/avro/make_fastavro.py
"""

import json
import os

import fastavro

HERE = os.path.dirname(os.path.abspath(__file__))

SCHEMA = {
    "type": "record",
    "name": "Event",
    "namespace": "py",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["CLICK", "VIEW", "BUY"]}},
        {"name": "user", "type": ["null", {"type": "record", "name": "User", "fields": [
            {"name": "name", "type": "string"},
            {"name": "age", "type": ["null", "int"]},
        ]}]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "props", "type": {"type": "map", "values": "double"}},
        {"name": "payload", "type": "bytes"},
        {"name": "ratio", "type": "float"},
    ],
}


def record(i):
    return {
        "id": i * 1000003 - 5000,
        "kind": ["CLICK", "VIEW", "BUY"][i % 3],
        "user": None if i % 4 == 0 else {"name": "user %d ✓" % i, "age": None if i % 3 == 0 else 20 + i % 50},
        "tags": ["t%d" % k for k in range(i % 4)],
        "props": {"p%d" % k: k / 4.0 for k in range(i % 3)},
        "payload": bytes([i % 256] * (i % 7)),
        "ratio": float(i % 16) / 8.0,
    }


def as_json(r):
    out = dict(r)
    out["payload"] = list(r["payload"])
    return out


def main():
    records = [record(i) for i in range(300)]
    for codec in ["null", "deflate", "bzip2"]:
        path = os.path.join(HERE, "fastavro-%s.avro" % codec)
        with open(path, "wb") as f:
            fastavro.writer(f, fastavro.parse_schema(SCHEMA), records, codec=codec, sync_interval=512)
    with open(os.path.join(HERE, "fastavro.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(as_json(r), sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
