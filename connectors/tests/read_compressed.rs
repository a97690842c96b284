//! Compressed files: read unsplit, checkpointed, resumed without re-emitting a record.
#![cfg(all(feature = "gzip", feature = "zstd", feature = "bzip2"))]

mod read_support;

use std::io::Write;

use read_support::{Ends, TempDir, contract_strings, line_strings, one_call};
use sdf_connectors::read::{Access, Codec, Compression, FileRange};
use sdf_connectors::{FileMetadata, ReadCsv, ReadText};
use sdf_core::testing::{
    ConcurrentOptions, ExhaustiveOptions, check_concurrent_splits_expecting,
    check_sdf_exhaustive_expecting, fresh, run_to_completion,
};
use sdf_core::{OffsetRange, SplittableDoFn};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // Two members, as `cat a.gz b.gz` makes: both must be read.
    let (a, b) = bytes.split_at(bytes.len() / 2);
    let mut out = Vec::new();
    for part in [a, b] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(part).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    let (a, b) = bytes.split_at(bytes.len() / 3);
    let level = ruzstd::encoding::CompressionLevel::Fastest;
    let mut out = ruzstd::encoding::compress_to_vec(a, level);
    out.extend(ruzstd::encoding::compress_to_vec(b, level));
    out
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn text(lines: usize) -> String {
    (0..lines)
        .map(|i| {
            format!(
                "{i} ünïcode {}{}",
                "w".repeat(i % 13),
                ["\n", "\r\n"][i % 2]
            )
        })
        .collect::<String>()
        + "no newline at the end"
}

type Encoder = fn(&[u8]) -> Vec<u8>;
const CODECS: &[(&str, Codec, Encoder)] = &[
    ("gz", Codec::Gzip, gzip),
    ("zst", Codec::Zstd, zstd),
    ("bz2", Codec::Bzip2, bzip2),
];

#[test]
fn compressed_files_read_as_their_plain_text() {
    let dir = TempDir::new("compressed-read");
    let plain = text(500);
    for &(ext, codec, encode) in CODECS {
        let by_extension = dir.file(&format!("a.txt.{ext}"), encode(plain.as_bytes()));
        let by_magic = dir.file(
            &format!("{ext}-without-extension"),
            encode(plain.as_bytes()),
        );
        let read = ReadText::new().buffer_size(100);
        for file in [&by_extension, &by_magic] {
            let r = read.initial_restriction(file).unwrap();
            assert_eq!(r.access, Access::Decode(codec), "{}", file.path.display());
            assert_eq!(
                read.split_restriction(file, r, 10.0).unwrap(),
                [r],
                "never split"
            );
            assert_eq!(
                run_to_completion(&read, file).unwrap(),
                contract_strings(plain.as_bytes())
            );
        }
    }
}

#[test]
fn a_checkpoint_in_the_middle_resumes_without_re_emitting() {
    let dir = TempDir::new("compressed-resume");
    let plain = text(300);
    let want = contract_strings(plain.as_bytes());
    for &(ext, codec, encode) in CODECS {
        let file = dir.file(&format!("a.txt.{ext}"), encode(plain.as_bytes()));
        // Parking off: the resume decodes from the start and skips to its offset.
        for parked in [0, 8] {
            let read = ReadText::new().buffer_size(64).parked_readers(parked);
            let whole = FileRange::new(OffsetRange::new(0, i64::MAX), Access::Decode(codec));
            let (first, residual) = one_call(&read, &file, whole, Some(120)).unwrap();
            assert_eq!(first, want[..120], "{ext}");
            let residual = residual.expect("a checkpoint leaves a residual");
            assert!(residual.range.start() > 0 && residual.range.end() == i64::MAX);
            let (rest, none) = one_call(&read, &file, residual, None).unwrap();
            assert_eq!(none, None);
            assert_eq!(rest, want[120..], "{ext}, parked {parked}");
        }
    }
}

#[test]
fn compressed_files_pass_the_kit() {
    let dir = TempDir::new("compressed-kit");
    let plain = "a\r\nbb\n\nccc\nü🙂\nlast";
    let want = line_strings(plain.as_bytes(), Ends::Lines, 0);
    let big_text = text(2_000);
    let big_want = line_strings(big_text.as_bytes(), Ends::Lines, 0);
    for &(ext, _, encode) in CODECS {
        let file = dir.file(&format!("k.txt.{ext}"), encode(plain.as_bytes()));
        for parked in [0, 8] {
            // A residual on a fresh instance has no parked decoder: it decodes from the start.
            let read = fresh(|| ReadText::new().buffer_size(3).parked_readers(parked));
            let report = check_sdf_exhaustive_expecting(
                &read,
                &file,
                want.clone(),
                &ExhaustiveOptions::default(),
            )
            .unwrap_or_else(|v| panic!("{ext}, parked {parked}: {v}"));
            assert!(report.checkpoints > 0, "{report:?}");
            assert!(report.fresh_instances > 0, "{report}");
        }
        let big = dir.file(&format!("big.txt.{ext}"), encode(big_text.as_bytes()));
        let options = ConcurrentOptions::default().repetitions(10);
        let read = fresh(|| ReadText::new().buffer_size(256));
        check_concurrent_splits_expecting(&read, &big, big_want.clone(), &options)
            .unwrap_or_else(|v| panic!("{ext}: {v}"));
    }
}

#[test]
fn compressed_progress_counts_compressed_bytes() {
    let dir = TempDir::new("compressed-progress");
    let file = dir.file("p.txt.gz", gzip(text(5_000).as_bytes()));
    let read = ReadText::new();
    let fresh = read.restriction_size(&file, &read.initial_restriction(&file).unwrap());
    assert_eq!(fresh, file.size as f64);
}

#[test]
fn compressed_csv_with_headers() {
    let dir = TempDir::new("compressed-csv");
    let csv = "id,text\r\n1,\"a, b\"\n2,plain\n";
    let file = dir.file("c.csv.zst", zstd(csv.as_bytes()));
    let read = || ReadCsv::<(u32, String)>::new().buffer_size(4);
    let rows = run_to_completion(&read(), &file).unwrap();
    assert_eq!(rows, [(1, "a, b".to_string()), (2, "plain".to_string())]);
    check_sdf_exhaustive_expecting(&fresh(read), &file, rows, &ExhaustiveOptions::default())
        .unwrap();
}

#[test]
fn broken_and_unsupported_compression_are_clear_errors() {
    let dir = TempDir::new("compressed-errors");
    let mut truncated = gzip(text(2_000).as_bytes());
    truncated.truncate(truncated.len() / 2);
    let file = dir.file("cut.txt.gz", truncated);
    let err = run_to_completion(&ReadText::new(), &file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("decompressing") && err.contains("cut.txt.gz"),
        "{err}"
    );

    let xz = dir.file("a.txt.xz", b"\xfd7zXZ\x00rest");
    let err = run_to_completion(&ReadText::new(), &xz)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.txt.xz") && err.contains("xz"), "{err}");

    // Forced off: compressed bytes are then records, the user's explicit choice.
    let gz = dir.file("forced.gz", gzip(b"x\n"));
    let read = ReadText::new().compression(Compression::Uncompressed);
    assert!(
        run_to_completion(&read, &gz).is_err(),
        "gzip bytes are not UTF-8"
    );
    let _: &FileMetadata = &gz;
}
