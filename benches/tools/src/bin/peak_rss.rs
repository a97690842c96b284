//! Runs a command and writes its peak resident set size, for the end-to-end benchmark
//! (`benches/e2e/run.py`).
//!
//! ```text
//! peak_rss OUT_FILE -- COMMAND [ARGS...]
//! ```
//!
//! The command inherits stdin, stdout and stderr; `peak_rss` exits with its status and writes
//! the largest resident set size of its children, in KiB, to `OUT_FILE`.
//!
//! Why not `os.wait4` from Python: Linux records, at `exec`, the peak RSS of the memory the
//! process had before it, and a child forked from the Python runner starts with the runner's
//! pages (~27 MB), so every figure below that read as 27 MB. Started from this small process
//! instead, the floor is a few MB.

use nix::sys::resource::{UsageWho, getrusage};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, command) = match args.as_slice() {
        [out, dashes, program, rest @ ..] if dashes == "--" => (out, (program, rest)),
        _ => {
            eprintln!("usage: peak_rss OUT_FILE -- COMMAND [ARGS...]");
            std::process::exit(2);
        }
    };
    let status = match std::process::Command::new(command.0)
        .args(command.1)
        .status()
    {
        Ok(status) => status,
        Err(e) => {
            eprintln!("peak_rss: cannot run {}: {e}", command.0);
            std::process::exit(2);
        }
    };
    let peak = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(usage) => usage.max_rss(),
        Err(e) => {
            eprintln!("peak_rss: getrusage: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::write(out, format!("{peak}\n")) {
        eprintln!("peak_rss: cannot write {out}: {e}");
        std::process::exit(2);
    }
    std::process::exit(status.code().unwrap_or(1));
}
