//! `ReadAvro` on damaged files: each damage is an error naming the file and the byte offset,
//! whichever range reads it, and never a silent loss.
#![cfg(feature = "avro")]

mod avro_support;
mod read_support;

use apache_avro::{Codec, DeflateSettings};
use avro_support::{FLAT, markers, read_range, write_file};
use read_support::TempDir;
use sdf_connectors::read::OnChange;
use sdf_connectors::{FileMetadata, ReadAvro};
use sdf_core::OffsetRange;
use sdf_core::testing::run_to_completion;

/// A zig-zag varint at `at`: its value and its length in bytes.
fn varint(bytes: &[u8], at: usize) -> (i64, usize) {
    let mut v: u64 = 0;
    for (i, &b) in bytes[at..].iter().enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return ((v >> 1) as i64 ^ -((v & 1) as i64), i + 1);
        }
    }
    panic!("no varint at {at}")
}

/// The error of reading the whole file.
fn error(read: &ReadAvro<apache_avro::types::Value>, file: &FileMetadata) -> String {
    run_to_completion(read, file).unwrap_err().to_string()
}

/// Whether the error names the file and the offset.
fn names(e: &str, file: &FileMetadata, offset: u64) -> bool {
    e.contains(&format!("byte {offset} of {}", file.path.display()))
}

/// Split at every byte, the two halves never both succeed: the damage is never skipped.
fn no_split_hides(read: &ReadAvro<apache_avro::types::Value>, file: &FileMetadata) {
    let size = file.size as i64;
    for m in 0..=size {
        let first = read_range(read, file, OffsetRange::new(0, m));
        let second = read_range(read, file, OffsetRange::new(m, size));
        assert!(
            first.is_err() || second.is_err(),
            "split at {m}: both halves read the damaged file"
        );
    }
}

fn base(codec: Codec) -> Vec<u8> {
    write_file(FLAT, codec, 40, 150)
}

#[test]
fn a_bad_magic_number_is_refused_at_byte_0() {
    let dir = TempDir::new("avro-magic");
    let mut bytes = base(Codec::Null);
    bytes[3] = 2;
    let file = dir.file("m.avro", &bytes);
    let e = error(&ReadAvro::new(), &file);
    assert!(names(&e, &file, 0) && e.contains("magic number"), "{e}");
    let e = error(&ReadAvro::new(), &dir.file("empty.avro", b""));
    assert!(e.contains("ends inside the magic number"), "{e}");
}

#[test]
fn a_flipped_sync_marker_byte_fails_the_block_before_it() {
    let dir = TempDir::new("avro-sync");
    let clean = base(Codec::Null);
    let positions = markers(&clean);
    for k in [0, 3, positions.len() - 1] {
        let mut bytes = clean.clone();
        let at = positions[k] as usize;
        bytes[at + 7] ^= 0x40;
        let file = dir.file(&format!("s{k}.avro"), &bytes);
        let e = error(&ReadAvro::new(), &file);
        // The header's own marker is the reference: damage there shows at the first block's end.
        let reported = if k == 0 { positions[1] } else { positions[k] };
        assert!(
            names(&e, &file, reported) && e.contains("not followed by the file's sync marker"),
            "marker {k}: {e}"
        );
        if k == 3 {
            no_split_hides(&ReadAvro::new(), &file);
        }
    }
}

#[test]
fn a_truncated_last_block_is_refused() {
    let dir = TempDir::new("avro-truncated");
    let clean = base(Codec::Deflate(DeflateSettings::default()));
    let positions = markers(&clean);
    let last_block = positions[positions.len() - 2];
    for cut in [5, 16, 30] {
        let bytes = &clean[..clean.len() - cut];
        let file = dir.file(&format!("t{cut}.avro"), bytes);
        let e = error(&ReadAvro::new(), &file);
        assert!(
            names(&e, &file, last_block) && e.contains("truncated block"),
            "cut {cut}: {e}"
        );
    }
    let file = dir.file("t.avro", &clean[..clean.len() - 30]);
    no_split_hides(&ReadAvro::new(), &file);
}

#[test]
fn a_record_count_larger_than_the_block_is_refused() {
    let dir = TempDir::new("avro-count");
    let mut bytes = base(Codec::Null);
    let positions = markers(&bytes);
    let count_at = positions[2] as usize + 16;
    let (count, len) = varint(&bytes, count_at);
    assert_eq!(len, 1, "a one-byte count");
    bytes[count_at] = 120; // 60 records, one byte
    let file = dir.file("c.avro", &bytes);
    let e = error(&ReadAvro::new(), &file);
    assert!(
        names(&e, &file, positions[2])
            && e.contains(&format!("record {count} of the 60 records"))
            && e.contains("does not decode"),
        "{e}"
    );

    // A count smaller than the records leaves bytes after them.
    bytes[count_at] = 2; // 1 record
    let file = dir.file("c1.avro", &bytes);
    let e = error(&ReadAvro::new(), &file);
    assert!(
        names(&e, &file, positions[2]) && e.contains("left after the block's 1 records"),
        "{e}"
    );
}

#[test]
fn a_deflate_block_of_garbage_is_refused() {
    let dir = TempDir::new("avro-garbage");
    let mut bytes = base(Codec::Deflate(DeflateSettings::default()));
    let positions = markers(&bytes);
    let at = positions[1] as usize + 16;
    let (_, count_len) = varint(&bytes, at);
    let (size, size_len) = varint(&bytes, at + count_len);
    let data = at + count_len + size_len;
    bytes[data..data + size as usize].fill(0xff);
    let file = dir.file("g.avro", &bytes);
    let e = error(&ReadAvro::new(), &file);
    assert!(
        names(&e, &file, positions[1])
            && e.contains("the deflate block")
            && e.contains("does not decode"),
        "{e}"
    );
}

#[test]
fn an_unknown_codec_says_to_recode() {
    let dir = TempDir::new("avro-codec");
    let mut bytes = base(Codec::Deflate(DeflateSettings::default()));
    let at = bytes
        .windows(8)
        .position(|w| w == b"\x0edeflate")
        .expect("the codec entry");
    bytes[at + 1..at + 8].copy_from_slice(b"deflat3");
    let file = dir.file("u.avro", &bytes);
    let e = error(&ReadAvro::new(), &file);
    assert!(
        names(&e, &file, 4) && e.contains("\"deflat3\"") && e.contains("recodec"),
        "{e}"
    );
}

#[test]
fn a_block_beyond_the_limit_is_an_error_not_an_allocation() {
    let dir = TempDir::new("avro-limit");
    let bytes = base(Codec::Null);
    let positions = markers(&bytes);
    let file = dir.file("l.avro", &bytes);
    let e = error(&ReadAvro::new().max_block_bytes(50), &file);
    assert!(
        names(&e, &file, positions[0]) && e.contains("more than the limit of 50"),
        "{e}"
    );
    // Compressed blocks are also bounded by what they decode to.
    let zeros = write_file(FLAT, Codec::Deflate(DeflateSettings::default()), 40, 150);
    let file = dir.file("z.avro", &zeros);
    let e = error(&ReadAvro::new().max_block_bytes(120), &file);
    assert!(e.contains("decodes to more than 120 bytes"), "{e}");
}

#[test]
fn a_file_that_changed_since_it_was_listed_fails_unless_allowed() {
    let dir = TempDir::new("avro-changed");
    let bytes = base(Codec::Null);
    let file = dir.file("a.avro", &bytes);
    let want = run_to_completion(&ReadAvro::new(), &file).unwrap();
    let mut grown = bytes.clone();
    grown.extend_from_slice(b"appended");
    std::fs::write(&file.path, &grown).unwrap();
    let e = error(&ReadAvro::new(), &file);
    assert!(e.contains("changed while it was being read"), "{e}");
    let got = run_to_completion(&ReadAvro::new().on_change(OnChange::ReadListed), &file).unwrap();
    assert_eq!(got, want);
}
