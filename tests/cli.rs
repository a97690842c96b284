//! The `sdf` binary, as a user runs it.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sdf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sdf"))
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sdf-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The records of a text file by the line contract: split on `\n`, one trailing `\r` dropped, a
/// last piece without `\n` counts if it is not empty.
fn line_count(path: &Path) -> usize {
    let bytes = fs::read(path).unwrap();
    let pieces = bytes.split(|&b| b == b'\n').count();
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        pieces - 1
    } else {
        pieces
    }
}

fn count(args: &[&str]) -> u64 {
    let out = sdf()
        .args(args)
        .arg("--count")
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn read_counts_what_a_line_count_counts() {
    let logs = samples().join("logs");
    let want: usize = fs::read_dir(&logs)
        .unwrap()
        .map(|e| line_count(&e.unwrap().path()))
        .sum();
    let pattern = format!("{}/*.log", logs.display());
    assert_eq!(count(&["read", pattern.as_str()]), want as u64);
    assert_eq!(want, 2150, "samples/README.md says so");
}

#[test]
fn read_counts_csv_and_json_lines_records() {
    let tables = samples().join("tables");
    let csv = tables.join("orders.csv").display().to_string();
    let jsonl = tables.join("events.jsonl").display().to_string();
    assert_eq!(count(&["read", &csv, "--format", "csv"]), 500);
    assert_eq!(count(&["read", &jsonl, "--format", "jsonl"]), 800);
}

/// The benchmark checksum of a text file by the same contract: the XXH64 (seed 42) of each
/// line without its line end, summed mod 2^64.
fn line_checksum(path: &Path) -> u64 {
    let bytes = fs::read(path).unwrap();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if bytes.is_empty() {
        return 0;
    }
    body.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .fold(0u64, |sum, line| {
            sum.wrapping_add(xxhash_rust::xxh64::xxh64(line, 42))
        })
}

#[test]
fn read_checksum_proves_every_line_was_delivered_once() {
    let logs = samples().join("logs");
    let paths: Vec<PathBuf> = fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let lines: usize = paths.iter().map(|p| line_count(p)).sum();
    let sum = paths
        .iter()
        .fold(0u64, |sum, p| sum.wrapping_add(line_checksum(p)));
    let pattern = format!("{}/*.log", logs.display());
    // Two workers and a small file set: the runtime splits the files while they are read.
    let out = sdf()
        .args(["read", &pattern, "--checksum", "--quiet", "--workers", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("{lines} {sum}")
    );

    // The reference figures of the benchmark data's generator (python-xxhash).
    let dir = temp_dir("checksum");
    fs::write(dir.join("a.txt"), "abc\r\n\n").unwrap();
    let out = sdf()
        .args([
            "read",
            &dir.join("a.txt").display().to_string(),
            "--checksum",
            "-q",
        ])
        .output()
        .unwrap();
    let want = 0x13c1_d910_7027_70e6u64.wrapping_add(0x98b1_582b_0977_e704);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("2 {want}")
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checksum_is_for_text_only() {
    let csv = samples().join("tables").join("orders.csv");
    let out = sdf()
        .args([
            "read",
            &csv.display().to_string(),
            "--format",
            "csv",
            "--checksum",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--format text"), "{stderr}");
}

#[test]
fn a_line_over_the_record_length_limit_fails_naming_file_and_offset() {
    let dir = temp_dir("too-long");
    let path = dir.join("long.txt");
    fs::write(&path, format!("short\n{}\nafter\n", "x".repeat(5000))).unwrap();
    for mode in ["--count", "--checksum"] {
        let out = sdf()
            .args(["read", &path.display().to_string(), mode, "-q"])
            .args(["--max-record-length", "4KiB"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{mode}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&path.display().to_string())
                && stderr.contains("byte 6 ")
                && stderr.contains("4096"),
            "{mode}: {stderr}"
        );
    }
    // Within the limit, the same file reads.
    assert_eq!(
        count(&[
            "read",
            &path.display().to_string(),
            "--max-record-length",
            "8KiB"
        ]),
        3
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn read_prints_avro_records_as_json_lines() {
    let trips = samples().join("tables/trips.avro").display().to_string();
    for workers in ["1", "4"] {
        assert_eq!(
            count(&["read", &trips, "--format", "avro", "--workers", workers]),
            1000
        );
    }
    let out = sdf()
        .args(["read", &trips, "--format", "avro", "--quiet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1000);
    // Each record once (ids 1..=1000), whatever order the workers printed them in.
    let mut ids: Vec<i64> = lines.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=1000).collect::<Vec<_>>());
    let first = lines.iter().find(|v| v["id"] == 3).unwrap();
    assert_eq!(first["city"], "Kraków");
    assert_eq!(first["payment"], "APP");
    assert_eq!(first["driver"]["name"], "driver 2");

    // A file that is not Avro fails, naming it and the offset.
    let csv = samples().join("tables/orders.csv").display().to_string();
    let out = sdf()
        .args(["read", &csv, "--format", "avro", "--count", "--quiet"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("byte 0 of {csv}")) && stderr.contains("Avro magic number"),
        "{stderr}"
    );
}

#[test]
fn a_pattern_matching_nothing_is_an_error_that_names_it() {
    let out = sdf()
        .args(["read", "/nonexistent/sdf/*.log", "--count"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/sdf/*.log") && stderr.contains("--allow-empty"),
        "{stderr}"
    );
}

/// `sdf read ARGS --quiet`: its stdout, after checking that it succeeded.
#[cfg(feature = "parquet")]
fn read_stdout(args: &[&str]) -> String {
    let out = sdf()
        .arg("read")
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[cfg(feature = "parquet")]
#[test]
fn read_parquet_prints_counts_and_projects_rows() {
    let tables = samples().join("tables");
    let parquet = tables.join("events.parquet").display().to_string();
    assert_eq!(count(&["read", &parquet, "--format", "parquet"]), 800);
    // Every row, as the JSON line it was made from (samples/tables/events.jsonl).
    let parse = |line: &str| serde_json::from_str::<serde_json::Value>(line).unwrap();
    let by_id = |text: &str| {
        let mut rows: Vec<serde_json::Value> = text.lines().map(parse).collect();
        rows.sort_by_key(|r| r["id"].as_i64());
        rows
    };
    let printed = read_stdout(&[&parquet, "--format", "parquet"]);
    let jsonl = fs::read_to_string(tables.join("events.jsonl")).unwrap();
    assert_eq!(by_id(&printed), by_id(&jsonl));
    // Only the columns asked for, in that order.
    let projected = read_stdout(&[&parquet, "--format", "parquet", "--columns", "kind,id"]);
    assert_eq!(projected.lines().count(), 800);
    assert!(
        projected.lines().any(|l| l == r#"{"kind":"click","id":1}"#),
        "{}",
        &projected[..200]
    );
    // --out writes Parquet again, which reads back whole.
    let out = temp_dir("read-parquet-out");
    read_stdout(&[
        &parquet,
        "--format",
        "parquet",
        "--out",
        &out.display().to_string(),
    ]);
    let written = format!("{}/*.parquet", out.display());
    assert_eq!(count(&["read", &written, "--format", "parquet"]), 800);
    fs::remove_dir_all(&out).unwrap();
}

#[cfg(feature = "parquet")]
#[test]
fn read_parquet_names_a_missing_column_and_a_file_that_is_not_parquet() {
    let tables = samples().join("tables");
    let parquet = tables.join("events.parquet").display().to_string();
    let out = sdf()
        .args([
            "read",
            &parquet,
            "--format",
            "parquet",
            "--columns",
            "id,nope",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("events.parquet") && stderr.contains("\"nope\""),
        "{stderr}"
    );
    let jsonl = tables.join("events.jsonl").display().to_string();
    let out = sdf()
        .args(["read", &jsonl, "--format", "parquet", "--count"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("events.jsonl") && stderr.contains("PAR1"),
        "{stderr}"
    );
    let out = sdf()
        .args(["read", &jsonl, "--columns", "id", "--count"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format parquet"));
}

#[cfg(not(feature = "s3"))]
#[test]
fn an_s3_pattern_without_the_s3_feature_names_the_feature() {
    let out = sdf()
        .args(["read", "s3://bucket/logs/**/*.csv", "--count"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("s3://bucket/logs") && stderr.contains("--features s3"),
        "{stderr}"
    );
}

/// Every line of the files under `dir` (the staging directory excluded), with its count.
fn published_lines(dir: &Path) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    for entry in fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_file() {
            for line in fs::read_to_string(&path).unwrap().lines() {
                *lines.entry(line.to_string()).or_default() += 1;
            }
        }
    }
    lines
}

#[test]
fn read_writes_every_record_to_out() {
    let out = temp_dir("read-out");
    let pattern = format!("{}/*.log", samples().join("logs").display());
    let status = sdf()
        .args(["read", &pattern, "--quiet", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let published = published_lines(&out);
    assert_eq!(published.values().sum::<usize>(), 2150);
    fs::remove_dir_all(&out).unwrap();
}

/// Writes a file of `n` lines named `name` into `inbox`, whole: written beside it, then renamed.
fn drop_file(inbox: &Path, name: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = (0..n).map(|i| format!("{name} line {i}")).collect();
    let staging = inbox.parent().unwrap().join(format!(".{name}.tmp"));
    let mut f = fs::File::create(&staging).unwrap();
    for line in &lines {
        writeln!(f, "{line}").unwrap();
    }
    f.sync_all().unwrap();
    fs::rename(&staging, inbox.join(name)).unwrap();
    lines
}

fn wait_for(out: &Path, total: usize) -> HashMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let published = published_lines(out);
        if published.values().sum::<usize>() >= total || Instant::now() > deadline {
            return published;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn watch_resumes_after_kill_9_without_losing_or_duplicating() {
    let dir = temp_dir("watch");
    let (inbox, out, state) = (dir.join("inbox"), dir.join("out"), dir.join("state"));
    fs::create_dir_all(&inbox).unwrap();
    let pattern = format!("{}/*.txt", inbox.display());
    let watch = || {
        sdf()
            .args([
                "watch",
                &pattern,
                "--poll",
                "50ms",
                "--checkpoint",
                "20ms",
                "--status",
                "0",
                "--out",
            ])
            .arg(&out)
            .arg("--state")
            .arg(&state)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut want = Vec::new();
    let mut child = watch();
    for round in 0..4 {
        for i in 0..3 {
            want.extend(drop_file(&inbox, &format!("r{round}-f{i}.txt"), 200));
        }
        // Kill it for real at a moment that depends on the round: mid-file or after a commit.
        std::thread::sleep(Duration::from_millis(30 + 40 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        child = watch();
    }
    // A last file, for the last process: once it is published, that process is running.
    want.extend(drop_file(&inbox, "last.txt", 10));
    let published = wait_for(&out, want.len());
    // Stop it the way a user does: SIGINT, then it saves a checkpoint and exits cleanly.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "sdf watch exited with {status} on SIGINT");
    let mut expected: HashMap<String, usize> = HashMap::new();
    for line in want {
        *expected.entry(line).or_default() += 1;
    }
    assert_eq!(published.len(), expected.len(), "lines lost");
    assert_eq!(published, expected, "every line exactly once");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tail_prints_lines_as_they_are_appended() {
    let dir = temp_dir("tail");
    let log = dir.join("app.log");
    fs::write(&log, "first\n").unwrap();
    let pattern = format!("{}/*.log", dir.display());
    let mut child = sdf()
        .args(["tail", &pattern, "--poll", "20ms"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "first\n");
    fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"second\n")
        .unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "second\n");
    child.kill().unwrap();
    child.wait().unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

/// Runs `sdf read` with `input` on its standard input.
fn read_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = sdf()
        .arg("read")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn patterns_from_stdin_are_read_each_once_and_a_bad_line_is_named() {
    // The issue's command: a pattern given twice is read once.
    let out = read_with_stdin(
        &["--patterns-from", "-", "--count", "-q"],
        "samples/logs/*.log\nsamples/logs/*.log\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2150");
    // Patterns from a file, after one given as an argument; a file two patterns match once.
    let dir = temp_dir("patterns-from");
    let list = dir.join("patterns.txt");
    fs::write(&list, "samples/logs/*.log\n\nsamples/logs/app-*.log\n").unwrap();
    let out = sdf()
        .args(["read", "samples/tables/events.jsonl", "--patterns-from"])
        .arg(&list)
        .args(["--count", "-q"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = line_count(&samples().join("tables/events.jsonl")) as u64;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        (2150 + events).to_string()
    );
    // A bad pattern and one that matches nothing: each named with its line, the good one
    // still read, and the command fails.
    let out = read_with_stdin(
        &["--patterns-from", "-", "--count", "-q"],
        "samples/logs/[oops\nsamples/logs/*.log\nsamples/nothing-here/*.txt\n",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 1"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2150",
        "{stderr}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// A failure prints what the person at the command line needs: the file, the offset, what is
/// wrong and the flag that changes it; not the runtime's frame (the step's element as `Debug`,
/// the restriction) nor the library's advice.
#[test]
fn a_bad_record_is_reported_in_the_command_lines_words() {
    let dir = temp_dir("cli-words");
    let csv = dir.join("ragged.csv");
    fs::write(&csv, "a,b\n\"x\ny\",1\n2,3,4\n").unwrap();
    let json = dir.join("bad.jsonl");
    fs::write(&json, "{\"a\": 1}\n{\"a\": tru}\n").unwrap();
    for (path, format, expected) in [
        (&csv, "csv", "accept such records with --flexible"),
        (&json, "jsonl", "at column 10 of the line"),
    ] {
        let out = sdf()
            .args(["read", path.to_str().unwrap(), "--format", format, "-q"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{format}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
        assert!(stderr.contains("at byte"), "{stderr}");
        for internal in [
            "FileMetadata {",
            "restriction",
            "Pipeline::",
            "ReadCsv::",
            "connector:",
            "line 1 column",
        ] {
            assert!(!stderr.contains(internal), "{internal:?} in {stderr}");
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn small_mistakes_on_the_command_line_say_what_to_write() {
    let dir = temp_dir("small-mistakes");
    let file = dir.join("not-a-dir");
    fs::write(&file, "x").unwrap();
    let logs = samples().join("logs/*.log");
    let out = sdf()
        .args(["read", logs.to_str().unwrap(), "-q", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("it is a file; --out names a directory"),
        "{stderr}"
    );
    let out = sdf()
        .args([
            "read",
            logs.to_str().unwrap(),
            "--count",
            "--max-record-length",
            "1.5MiB",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1536KiB"), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

fn stdout_of(args: &[&str]) -> String {
    let out = sdf().args(args).arg("--quiet").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// CSV rows print as objects keyed by the header (arrays when asked), `--out` writes CSV that
/// reads back as the same rows, header included, and inputs whose columns come in another
/// order are written by name; inputs with other columns are refused.
#[test]
fn csv_rows_are_objects_and_round_trip_through_out() {
    let orders = samples().join("tables/orders.csv");
    let orders = orders.to_str().unwrap();
    let rows = stdout_of(&["read", orders, "--format", "csv", "--workers", "2"]);
    let first: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"id": "1", "customer": "cust-013", "amount": "50.22", "note": "line one\nline two"})
    );
    let arrays = stdout_of(&[
        "read",
        orders,
        "--format",
        "csv",
        "--arrays",
        "--workers",
        "1",
    ]);
    assert!(
        arrays.starts_with(r#"["1","cust-013","50.22","line one\nline two"]"#),
        "{arrays}"
    );
    let no_header = stdout_of(&[
        "read",
        orders,
        "--format",
        "csv",
        "--no-header",
        "--workers",
        "1",
    ]);
    assert!(
        no_header.starts_with(r#"["id","customer","amount","note"]"#),
        "{no_header}"
    );

    let dir = temp_dir("csv-out");
    let other = dir.join("other-order.csv");
    fs::write(
        &other,
        "note,id,amount,customer\n\"a, b\",501,1.5,cust-001\n",
    )
    .unwrap();
    let out = dir.join("out");
    let both = format!("{}", other.display());
    stdout_of(&[
        "read",
        orders,
        &both,
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    let pattern = format!("{}/*.csv", out.display());
    assert_eq!(count(&["read", &pattern, "--format", "csv"]), 501);
    let mut back: Vec<serde_json::Value> = stdout_of(&["read", &pattern, "--format", "csv"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    back.sort_by_key(|r| r["id"].as_str().unwrap().parse::<u64>().unwrap());
    assert_eq!(back[0], first);
    assert_eq!(
        back[500],
        serde_json::json!({"id": "501", "customer": "cust-001", "amount": "1.5", "note": "a, b"})
    );

    let unlike = dir.join("unlike.csv");
    fs::write(&unlike, "id,name\n1,x\n").unwrap();
    let refused = dir.join("refused");
    let output = sdf()
        .args([
            "read",
            orders,
            unlike.to_str().unwrap(),
            "--format",
            "csv",
            "--workers",
            "1",
        ])
        .args(["--out", refused.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("different columns"), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}
