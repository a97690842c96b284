//! [`Compression`]: how a file's bytes are decoded, detected from its extension.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::FileError;

/// How the files of a [`FileBasedSource`](super::FileBasedSource) are compressed.
///
/// A compressed file cannot be read from the middle: one reader decompresses it from its start
/// to its end, so it is never split, and only its first record is a split point.
///
/// [`Auto`](Self::Auto), the default, decides per file by extension: `.gz` is gzip, `.deflate`
/// is a zlib stream (Beam's `DEFLATE`), anything else is uncompressed, except the extensions of
/// compressions this crate cannot decode (`.bz2`, `.zst`, `.xz`, `.lz4`, `.zip`), which are an
/// error rather than compressed bytes read as records. Any other value applies to every file.
///
/// ```
/// use sdf_legacy::file::Compression;
/// assert_eq!(Compression::Auto.resolve("logs/a.txt.gz".as_ref())?, Compression::Gzip);
/// assert_eq!(Compression::Auto.resolve("logs/a.txt".as_ref())?, Compression::Uncompressed);
/// assert_eq!(Compression::Uncompressed.resolve("raw.gz".as_ref())?, Compression::Uncompressed);
/// assert!(Compression::Auto.resolve("logs/a.txt.zst".as_ref()).is_err());
/// # Ok::<(), sdf_legacy::FileError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Compression {
    /// By extension (see above).
    #[default]
    Auto,
    /// Plain bytes: splittable at any offset.
    Uncompressed,
    /// gzip, concatenated members included (as `gzip -d` reads them).
    Gzip,
    /// A zlib stream (RFC 1950), Beam's `DEFLATE`.
    Deflate,
}

/// Extensions of compressions this crate does not decode.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("bz2", "bzip2"),
    ("zst", "zstd"),
    ("xz", "xz"),
    ("lz4", "lz4"),
    ("zip", "zip"),
];

impl Compression {
    /// The compression of the file at `path`: this one, or, for [`Auto`](Self::Auto), the one
    /// its extension names. Never returns `Auto`.
    pub fn resolve(self, path: &Path) -> Result<Compression, FileError> {
        if self != Compression::Auto {
            return Ok(self);
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match extension.as_deref() {
            Some("gz") => Compression::Gzip,
            Some("deflate") => Compression::Deflate,
            Some(ext) => match UNSUPPORTED.iter().find(|(e, _)| *e == ext) {
                Some(&(_, name)) => {
                    return Err(FileError::UnsupportedCompression {
                        path: path.to_path_buf(),
                        name,
                    });
                }
                None => Compression::Uncompressed,
            },
            None => Compression::Uncompressed,
        })
    }

    /// Whether the bytes must be decoded, so that the file cannot be split.
    pub fn is_compressed(self) -> bool {
        matches!(self, Compression::Gzip | Compression::Deflate)
    }

    /// A decoder of `raw` (the decoders buffer it), or `raw` back for uncompressed (and
    /// unresolved) data.
    pub(crate) fn decoder<R: Read + Send + 'static>(
        self,
        raw: R,
    ) -> Result<Box<dyn Read + Send>, R> {
        match self {
            Compression::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(raw))),
            Compression::Deflate => Ok(Box::new(flate2::read::ZlibDecoder::new(raw))),
            Compression::Auto | Compression::Uncompressed => Err(raw),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Auto => "auto-detected",
            Compression::Uncompressed => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Deflate => "deflate",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Compression::{self, *};

    #[test]
    fn auto_detects_by_extension() {
        let cases: &[(&str, &str, Option<Compression>)] = &[
            ("gzip", "a.txt.gz", Some(Gzip)),
            ("upper case", "A.TXT.GZ", Some(Gzip)),
            ("deflate", "a.deflate", Some(Deflate)),
            ("plain", "a.txt", Some(Uncompressed)),
            ("no extension", "data/a", Some(Uncompressed)),
            ("dot file", "data/.gz", Some(Uncompressed)),
            ("zstd", "a.zst", None),
            ("bzip2", "a.csv.bz2", None),
        ];
        for (name, path, expected) in cases {
            let got = Auto.resolve(path.as_ref()).ok();
            assert_eq!(got, *expected, "{name}");
        }
    }

    #[test]
    fn an_explicit_compression_overrides_the_extension() {
        assert_eq!(Gzip.resolve("a.txt".as_ref()).unwrap(), Gzip);
        assert_eq!(
            Uncompressed.resolve("a.zst".as_ref()).unwrap(),
            Uncompressed
        );
        assert!(!Uncompressed.is_compressed() && Gzip.is_compressed());
    }
}
