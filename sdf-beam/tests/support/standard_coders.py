"""Prints Beam's standard_coders.yaml, from the installed apache-beam, as JSON for the Rust test.

The file is read the way Beam's own `standard_coders_test.py` reads it: every document is a
case; encoded bytes (the examples' keys, payloads, state suffixes) are latin-1 strings, which
this writes as hex.
"""
import json
import os
import sys

import apache_beam
import yaml


def coder(spec):
    return {
        "urn": spec["urn"],
        "payload": spec.get("payload", "").encode("latin1").hex(),
        "components": [coder(c) for c in spec.get("components", [])],
        "non_deterministic": bool(spec.get("non_deterministic", False)),
    }


def main():
    path = os.path.join(
        os.path.dirname(apache_beam.__file__), "portability", "api", "standard_coders.yaml"
    )
    with open(path, encoding="utf-8") as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    cases = []
    for d in documents:
        cases.append(
            {
                "coder": coder(d["coder"]),
                "nested": d.get("nested"),
                "examples": [[k.encode("latin1").hex(), v] for k, v in d["examples"].items()],
                "state": {
                    k.encode("latin1").hex(): v.encode("latin1").hex()
                    for k, v in (d["coder"].get("state") or {}).items()
                },
            }
        )
    json.dump({"beam": apache_beam.__version__, "path": path, "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
