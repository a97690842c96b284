"""Runs a pipeline proto on Beam's FnApiRunner directly, the way `beam.Pipeline.run` does,
with options the portable job service does not pass on (it calls `run_via_runner_api`
without reading `direct_runner_bundle_repeat`).

usage: python run_fn_api_runner.py PIPELINE.binpb BUNDLE_REPEAT

Prints one JSON object on stdout: the final state and the committed user counters
(namespace/name/transform -> value).
"""

import json
import sys

from apache_beam.metrics import monitoring_infos
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.fn_api_runner import fn_runner


def main():
    path, repeat = sys.argv[1], int(sys.argv[2])
    pipeline = beam_runner_api_pb2.Pipeline()
    with open(path, "rb") as f:
        pipeline.ParseFromString(f.read())
    runner = fn_runner.FnApiRunner(bundle_repeat=repeat)
    result = runner.run_via_runner_api(pipeline, PipelineOptions([]))
    counters = {}
    for info in result.monitoring_infos():
        if monitoring_infos.is_user_monitoring_info(info) and monitoring_infos.is_counter(info):
            key = "/".join(
                info.labels.get(k, "") for k in ("NAMESPACE", "NAME", "PTRANSFORM"))
            counters[key] = counters.get(key, 0) + monitoring_infos.extract_counter_value(info)
    print(json.dumps({"state": str(result.state), "counters": counters}))


if __name__ == "__main__":
    main()
