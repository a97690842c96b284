//! [`Compression`] (the option) and [`Codec`] (what a file turned out to be): detection by
//! extension, then by magic bytes, and the decoders.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage;

/// How the files a reader is given are compressed.
///
/// [`Auto`](Self::Auto), the default, decides per file: by extension (`.gz`, `.zst`/`.zstd`,
/// `.bz2`); a plain-text extension (`.txt`, `.csv`, `.tsv`, `.json`, `.jsonl`, `.ndjson`,
/// `.log`) means uncompressed; any other file (no extension, `.dat`...) is recognized by its
/// first bytes (gzip, zstd and bzip2 magic numbers), which costs one small read when the
/// reader computes its initial restriction. A file in a
/// format that cannot be decoded here (`.xz`, `.lz4`, `.zip`, `.br`, or their magic numbers)
/// is an error, never compressed bytes read as records.
///
/// ```
/// use sdf_connectors::read::{Codec, Compression};
/// assert_eq!(Compression::Auto.by_extension("logs/a.txt.gz".as_ref())?, Some(Codec::Gzip));
/// assert_eq!(Compression::Auto.by_extension("logs/a.txt".as_ref())?, None);
/// assert!(Compression::Auto.by_extension("logs/a.txt.xz".as_ref()).is_err());
/// # Ok::<(), sdf_connectors::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Compression {
    /// By extension, else by magic bytes.
    #[default]
    Auto,
    /// Every file is plain bytes.
    Uncompressed,
    /// Every file is compressed with this codec.
    Always(Codec),
}

/// A compression format this crate decodes (with the cargo feature of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Codec {
    /// gzip, concatenated members included (as `gzip -d` reads them). Feature `gzip`.
    Gzip,
    /// Zstandard, concatenated frames included. Feature `zstd`.
    Zstd,
    /// bzip2, concatenated streams included. Feature `bzip2`.
    Bzip2,
}

impl Codec {
    /// Its name, as error messages give it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
            Codec::Bzip2 => "bzip2",
        }
    }
}

/// Extensions of formats that are compressed but not decoded here.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("xz", "xz"),
    ("lzma", "lzma"),
    ("lz4", "lz4"),
    ("zip", "zip"),
    ("br", "brotli"),
    ("snappy", "snappy"),
];

/// Extensions of plain text: never sniffed.
const PLAIN: &[&str] = &["txt", "csv", "tsv", "json", "jsonl", "ndjson", "log"];

/// Magic numbers: what a file starts with.
const MAGIC: &[(&[u8], Result<Codec, &str>)] = &[
    (b"\x1f\x8b", Ok(Codec::Gzip)),
    (b"\x28\xb5\x2f\xfd", Ok(Codec::Zstd)),
    (b"BZh", Ok(Codec::Bzip2)),
    (b"\xfd7zXZ\x00", Err("xz")),
    (b"\x04\x22\x4d\x18", Err("lz4")),
    (b"PK\x03\x04", Err("zip")),
];

impl Compression {
    /// What the extension of `path` says: `Ok(Some(codec))`, `Ok(None)` (nothing, or
    /// uncompressed), or an error for a format that is not decoded here.
    pub fn by_extension(self, path: &Path) -> Result<Option<Codec>> {
        match self {
            Compression::Uncompressed => return Ok(None),
            Compression::Always(codec) => return Ok(Some(codec)),
            Compression::Auto => {}
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match ext.as_deref() {
            Some("gz" | "gzip") => Some(Codec::Gzip),
            Some("zst" | "zstd") => Some(Codec::Zstd),
            Some("bz2") => Some(Codec::Bzip2),
            Some(ext) if PLAIN.contains(&ext) => None,
            Some(ext) => match UNSUPPORTED.iter().find(|(e, _)| *e == ext) {
                Some((_, name)) => return Err(unsupported(path, name, "by its extension")),
                None => None,
            },
            None => None,
        })
    }

    /// The codec of the file at `path`: by [extension](Self::by_extension), else (for `Auto`)
    /// by its first bytes. Reads at most 6 bytes.
    pub fn detect(self, path: &Path) -> Result<Option<Codec>> {
        if let Some(codec) = self.by_extension(path)? {
            return Ok(Some(codec));
        }
        let plain = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| PLAIN.contains(&e.to_ascii_lowercase().as_str()));
        if self != Compression::Auto || plain {
            return Ok(None);
        }
        let mut head = [0u8; 6];
        let n = match path.to_str().filter(|p| storage::is_url(p)) {
            Some(url) => storage::read_head(url, &mut head)?,
            None => {
                read_head(path, &mut head).map_err(|e| Error::io("opening", path, Some(0), e))?
            }
        };
        let head = &head[..n];
        // bzip2 is "BZh" + a block size digit: text may start with "BZh", hardly "BZh1".."BZh9".
        for (magic, codec) in MAGIC {
            let digit = *magic != b"BZh" || head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d));
            if head.starts_with(magic) && digit {
                return match codec {
                    Ok(codec) => Ok(Some(*codec)),
                    Err(name) => Err(unsupported(path, name, "by its first bytes")),
                };
            }
        }
        Ok(None)
    }
}

fn read_head(path: &Path, head: &mut [u8]) -> io::Result<usize> {
    let mut file = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn unsupported(path: &Path, name: &'static str, how: &'static str) -> Error {
    Error::UnsupportedCompression {
        path: path.to_path_buf(),
        name,
        reason: format!(
            "detected {how}; decompress it first, or read it with Compression::Uncompressed if it is not compressed"
        ),
    }
}

/// A decoder of `raw` with `codec`, or an error naming the cargo feature left out.
pub(crate) fn decoder<R: Read + Send + 'static>(
    codec: Codec,
    raw: R,
    path: &Path,
) -> Result<Box<dyn Read + Send>> {
    #[allow(unreachable_patterns)]
    match codec {
        #[cfg(feature = "gzip")]
        Codec::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(raw))),
        #[cfg(feature = "bzip2")]
        Codec::Bzip2 => Ok(Box::new(bzip2::read::MultiBzDecoder::new(raw))),
        #[cfg(feature = "zstd")]
        Codec::Zstd => Ok(Box::new(zstd::Frames::new(io::BufReader::with_capacity(
            64 * 1024,
            raw,
        )))),
        _ => Err({
            drop(raw);
            Error::UnsupportedCompression {
                path: path.to_path_buf(),
                name: codec.name(),
                reason: format!(
                    "this build of sdf-connectors leaves out the `{}` cargo feature; enable it",
                    codec.name()
                ),
            }
        }),
    }
}

#[cfg(feature = "zstd")]
mod zstd {
    use std::io::{self, BufRead, Read};

    use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

    /// Decodes every frame of a zstd stream, one after another (as `zstd -d` does).
    pub(super) struct Frames<R: BufRead> {
        decoder: Option<StreamingDecoder<R, FrameDecoder>>,
        source: Option<R>,
    }

    impl<R: BufRead> Frames<R> {
        pub(super) fn new(source: R) -> Self {
            Frames {
                decoder: None,
                source: Some(source),
            }
        }

        /// Starts the next frame, if the source has more bytes.
        fn next_frame(&mut self) -> io::Result<bool> {
            let mut source = match (self.source.take(), self.decoder.take()) {
                (Some(source), _) => source,
                (None, Some(decoder)) => decoder.into_inner(),
                (None, None) => return Ok(false),
            };
            if source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            let decoder = StreamingDecoder::new(source).map_err(io::Error::other)?;
            self.decoder = Some(decoder);
            Ok(true)
        }
    }

    impl<R: BufRead> Read for Frames<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            loop {
                if let Some(decoder) = self.decoder.as_mut() {
                    let n = decoder.read(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                if !self.next_frame()? {
                    return Ok(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        use Codec::*;
        let cases: &[(&str, &str, Option<Codec>)] = &[
            ("gzip", "a.txt.gz", Some(Gzip)),
            ("upper case", "A.TXT.GZ", Some(Gzip)),
            ("zstd", "a.zst", Some(Zstd)),
            ("bzip2", "a.csv.bz2", Some(Bzip2)),
            ("plain", "a.txt", None),
            ("no extension", "README", None),
        ];
        for (name, path, want) in cases {
            assert_eq!(
                Compression::Auto.by_extension(path.as_ref()).unwrap(),
                *want,
                "{name}"
            );
        }
        assert_eq!(
            Compression::Uncompressed
                .by_extension("a.gz".as_ref())
                .unwrap(),
            None
        );
        assert_eq!(
            Compression::Always(Zstd)
                .by_extension("a.txt".as_ref())
                .unwrap(),
            Some(Zstd)
        );
        let e = Compression::Auto
            .by_extension("a.txt.xz".as_ref())
            .unwrap_err();
        assert!(
            e.to_string().contains("xz") && e.to_string().contains("a.txt.xz"),
            "{e}"
        );
    }

    #[test]
    fn magic_bytes_unless_the_extension_says_plain_text() {
        let dir = std::env::temp_dir().join(format!("sdf-codec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases: &[(&str, &[u8], Option<Codec>)] = &[
            ("x.dat", b"\x1f\x8b\x08rest", Some(Codec::Gzip)),
            ("x", b"\x28\xb5\x2f\xfdrest", Some(Codec::Zstd)),
            ("x.bin", b"BZh91AY&SY", Some(Codec::Bzip2)),
            ("text starting with BZh", b"BZhello", None),
            ("x.txt", b"\x1f\x8b\x08rest", None),
            ("empty", b"", None),
        ];
        for (name, bytes, want) in cases {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(Compression::Auto.detect(&path).unwrap(), *want, "{name}");
            assert_eq!(
                Compression::Uncompressed.detect(&path).unwrap(),
                None,
                "{name}"
            );
        }
        let lz4 = dir.join("x.bin4");
        std::fs::write(&lz4, b"\x04\x22\x4d\x18").unwrap();
        assert!(
            Compression::Auto
                .detect(&lz4)
                .unwrap_err()
                .to_string()
                .contains("lz4")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
