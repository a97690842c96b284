//! Files written by other tools read exactly, or fail loudly: never an error printed as a
//! record, never a crash. Parquet files come from pyarrow (in the venv the Beam tests cache,
//! which has it: apache-beam depends on pyarrow), written by `support/pyarrow_files.py`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sdf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdf"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("running sdf")
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sdf-other-tools-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Parquet files pyarrow writes, in a fresh directory.
fn pyarrow_files() -> PathBuf {
    let out = dir("pyarrow");
    let venv = sdf_beam::local::venv().unwrap_or_else(|e| panic!("{e}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pyarrow_files.py");
    let status = Command::new(venv.join("bin/python"))
        .arg(script)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    assert!(
        output.status.success(),
        "sdf failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
#[cfg(feature = "parquet")]
fn parquet_from_pyarrow_reads_with_every_codec_and_named_zones_and_fails_loudly_otherwise() {
    let files = pyarrow_files();
    for codec in ["zstd", "brotli", "lz4", "snappy", "gzip", "none"] {
        let path = files.join(format!("codec-{codec}.parquet"));
        let rows = lines(&sdf(&[
            "read",
            path.to_str().unwrap(),
            "--format",
            "parquet",
        ]));
        let expected: Vec<serde_json::Value> = (0..6)
            .map(|i| serde_json::json!({"id": i, "name": format!("name {i}")}))
            .collect();
        assert_eq!(rows, expected, "{codec}");
    }
    // Named zones (pyarrow's default is "UTC"): each instant in its zone's local time.
    let utc = lines(&sdf(&[
        "read",
        files.join("zone-UTC.parquet").to_str().unwrap(),
        "--format",
        "parquet",
    ]));
    let new_york = lines(&sdf(&[
        "read",
        files
            .join("zone-America_New_York.parquet")
            .to_str()
            .unwrap(),
        "--format",
        "parquet",
    ]));
    assert_eq!(utc.len(), 6);
    assert_eq!(new_york.len(), 6);
    let at = |rows: &[serde_json::Value], i: usize| rows[i]["at"].as_str().unwrap().to_string();
    assert!(
        at(&utc, 0).starts_with("2024-01-01T00:00:00"),
        "{}",
        at(&utc, 0)
    );
    assert_eq!(at(&new_york, 0), "2023-12-31T19:00:00-05:00");
    assert_eq!(at(&new_york, 5), "2024-01-01T00:00:00-05:00");
    // A map with integer keys has no JSON object: an error naming why, a non-zero exit, and
    // no error printed as a record.
    let output = sdf(&[
        "read",
        files.join("map-int-keys.parquet").to_str().unwrap(),
        "--format",
        "parquet",
    ]);
    assert!(!output.status.success());
    assert_ne!(output.status.code(), Some(134), "a crash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("error"),
        "an error printed as a record: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be printed as JSON"), "{stderr}");
    let _ = std::fs::remove_dir_all(&files);
}

#[test]
#[cfg(feature = "parquet")]
fn encrypted_parquet_says_it_is_encrypted() {
    let out = dir("encrypted");
    // An encrypted footer's file starts and ends with `PARE` (Parquet modular encryption).
    let path = out.join("secret.parquet");
    let mut bytes = b"PARE".to_vec();
    bytes.extend_from_slice(&[0u8; 32]);
    bytes.extend_from_slice(&32u32.to_le_bytes());
    bytes.extend_from_slice(b"PARE");
    std::fs::write(&path, bytes).unwrap();
    let output = sdf(&["read", path.to_str().unwrap(), "--format", "parquet"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("encrypted Parquet"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn json_nested_too_deep_is_an_error_at_its_offset_not_a_crash() {
    let out = dir("deep");
    let path = out.join("deep.jsonl");
    let first = "{\"a\": 1}\n";
    let deep = format!("{}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    std::fs::write(&path, format!("{first}{deep}")).unwrap();
    for args in [
        &["--format", "jsonl"][..],
        &["--format", "jsonl", "--count"],
    ] {
        let output = sdf(&[&["read", path.to_str().unwrap()][..], args].concat());
        assert!(!output.status.success(), "{args:?}");
        assert_ne!(output.status.code(), Some(134), "a crash: {args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("more than 128 deep"), "{stderr}");
        assert!(
            stderr.contains(&first.len().to_string()),
            "the line's offset: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
