#!/usr/bin/env python3
"""Writes Beam's model descriptors, as a FileDescriptorSet, from an installed apache-beam.

The apache-beam wheel ships no `.proto` files, but each generated `*_pb2.py` module holds the
FileDescriptorProto that protoc compiled from Beam's `.proto` at that release, byte for byte.
Collected in dependency order, they are the definitions `build.rs` generates Rust from.

    python3 -m venv /tmp/beam && /tmp/beam/bin/pip install apache-beam==X.Y.Z
    /tmp/beam/bin/python sdf-beam/proto/extract.py sdf-beam/proto/beam-X.Y.Z.binpb

The google/protobuf files Beam imports (descriptor, struct, timestamp, duration) are written
too, from the protobuf package beside it: code generation needs them to resolve types, though the
Rust types used for them are prost-types'.
"""
import importlib
import pkgutil
import sys

import apache_beam
import apache_beam.portability.api as api
from google.protobuf import descriptor_pb2, descriptor_pool


def beam_modules():
    prefix = api.__name__ + "."
    for info in pkgutil.walk_packages(api.__path__, prefix):
        if info.name.endswith("_pb2"):
            yield importlib.import_module(info.name)


def main(out):
    files = {}
    for module in beam_modules():
        proto = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        files[proto.name] = proto
    ordered, seen = [], set()
    pool = descriptor_pool.Default()

    def visit(name):
        if name in seen:
            return
        if name not in files:
            # A well-known type Beam imports: the descriptor the protobuf runtime holds.
            serialized = pool.FindFileByName(name).serialized_pb
            files[name] = descriptor_pb2.FileDescriptorProto.FromString(serialized)
        seen.add(name)
        for dependency in files[name].dependency:
            visit(dependency)
        ordered.append(files[name])

    for name in sorted(files):
        visit(name)
    import google.protobuf
    print(f"(well-known types from protobuf {google.protobuf.__version__})")
    fds = descriptor_pb2.FileDescriptorSet(file=ordered)
    with open(out, "wb") as f:
        f.write(fds.SerializeToString(deterministic=True))
    print(f"apache-beam {apache_beam.__version__}: {len(ordered)} files to {out}")
    for proto in ordered:
        print(f"  {proto.name} ({proto.package})")


if __name__ == "__main__":
    main(sys.argv[1])
