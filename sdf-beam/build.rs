//! Generates Beam's model (the Runner, Fn, Job and Provision APIs) from the descriptors in
//! `proto/`, which are Beam's own (see `proto/README.md`): no `protoc` is needed.

use std::path::Path;

use prost::Message;
use tonic_prost_build::FileDescriptorSet;

/// The Beam release the descriptors come from; `proto/README.md` says how to move to another.
const BEAM: &str = "2.77.0";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new("proto").join(format!("beam-{BEAM}.binpb"));
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fds = FileDescriptorSet::decode(bytes.as_slice())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
