//! The readers in the runtime: initial pieces, dynamic rebalancing and runner checkpoints on
//! real files, compressed and plain together, every record exactly once.

mod read_support;

use std::collections::HashMap;
use std::io::Write;

use read_support::{TempDir, contract_strings};
use sdf_connectors::ReadText;
use sdf_runtime::{Executor, Pipeline};

fn counts(lines: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut map = HashMap::new();
    for line in lines {
        *map.entry(line).or_insert(0) += 1;
    }
    map
}

#[test]
fn files_read_in_a_pipeline_deliver_every_line_once() {
    let dir = TempDir::new("pipeline");
    let mut files = Vec::new();
    let mut want = Vec::new();
    for f in 0..6 {
        let text: String = (0..(3_000 * (f + 1)))
            .map(|i| {
                format!(
                    "file {f} line {i} {}{}",
                    "ü".repeat(i % 7),
                    ["\n", "\r\n"][i % 2]
                )
            })
            .collect();
        want.extend(contract_strings(text.as_bytes()));
        files.push(dir.file(&format!("part-{f}.txt"), &text));
    }
    let gz_text: String = (0..5_000).map(|i| format!("gz line {i}\n")).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(gz_text.as_bytes()).unwrap();
    files.push(dir.file("zipped.txt.gz", gz.finish().unwrap()));
    want.extend(contract_strings(gz_text.as_bytes()));

    let mut p = Pipeline::new();
    let inputs = p.from_iter("files", files);
    let lines = p.apply(
        "read",
        inputs,
        ReadText::new().buffer_size(4096).min_split_size(1),
    );
    let out = p.collect("out", lines);
    // Small calls: many runner checkpoints, so resumed calls and parked readers are exercised.
    let executor = Executor::builder()
        .workers(2)
        .max_outputs_per_call(700)
        .build();
    let metrics = executor.run_blocking(p).unwrap();
    assert_eq!(out.len(), want.len());
    assert_eq!(counts(out.values()), counts(want));
    let read = metrics.iter().find(|m| m.name == "read").unwrap();
    assert!(read.checkpoints > 0, "{read:?}");
}
