//! [`RelPath`]: a file's path below the directory a pattern is matched in, and its sort key.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use sdf_core::ByteKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A path relative to the root of a pattern (`2024/05/a.log` below `/logs`): how a match
/// identifies a file in its restriction and how a watch remembers it, in few bytes.
///
/// Its [`key`](Self::key) orders paths component by component (`a/b` before `a-c`, as a sorted
/// directory walk visits them): the components joined by `0x00`, a byte no file name holds.
///
/// Serialized as a string: the path with `/` separators, or, for a name that is not UTF-8, a
/// `NUL` character followed by the bytes in hex (lossless either way).
///
/// ```
/// use sdf_connectors::RelPath;
/// let p = RelPath::from("logs/a.txt");
/// assert_eq!(p.to_string(), "logs/a.txt");
/// assert_eq!(p.key().as_bytes(), b"logs\0a.txt");
/// assert!(RelPath::from("a/b").key() < RelPath::from("a-c").key());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(Vec<u8>);

impl RelPath {
    /// From the names of the components, outermost first.
    pub fn from_components<'a>(names: impl IntoIterator<Item = &'a OsStr>) -> Self {
        let mut bytes = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            if i > 0 {
                bytes.push(b'/');
            }
            bytes.extend_from_slice(&os_bytes(name));
        }
        RelPath(bytes)
    }

    /// The sort key: the components joined by `0x00`.
    pub fn key(&self) -> ByteKey {
        ByteKey::from(
            self.0
                .iter()
                .map(|&b| if b == b'/' { 0 } else { b })
                .collect::<Vec<u8>>(),
        )
    }

    /// The path below `root`.
    pub fn under(&self, root: &Path) -> PathBuf {
        root.join(os_path(&self.0))
    }
}

impl From<&str> for RelPath {
    fn from(path: &str) -> Self {
        RelPath(path.as_bytes().to_vec())
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => {
                let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
                serializer.serialize_str(&format!("\0{hex}"))
            }
        }
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let Some(hex) = text.strip_prefix('\0') else {
            return Ok(RelPath(text.into_bytes()));
        };
        let digits = hex.as_bytes();
        if digits.len() % 2 != 0 {
            return Err(serde::de::Error::custom(
                "odd number of hex digits in a path",
            ));
        }
        digits
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("invalid hex digit in a path"))
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(RelPath)
    }
}

#[cfg(unix)]
fn os_bytes(name: &OsStr) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(name.as_bytes())
}

#[cfg(not(unix))]
fn os_bytes(name: &OsStr) -> std::borrow::Cow<'_, [u8]> {
    // Names that are not Unicode cannot be spelled back on these platforms: they are matched by
    // their lossy form.
    match name.to_string_lossy() {
        std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.into_bytes()),
    }
}

#[cfg(unix)]
fn os_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn os_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_component_by_component() {
        let mut paths: Vec<RelPath> = ["a-c", "a/b", "a", "a/b/c", "b", "a.txt"]
            .into_iter()
            .map(RelPath::from)
            .collect();
        paths.sort_by_key(RelPath::key);
        let names: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["a", "a/b", "a/b/c", "a-c", "a.txt", "b"]);
    }

    #[test]
    fn serde_round_trips_utf8_and_raw_bytes() {
        for path in [
            RelPath::from("x/y.log"),
            RelPath(vec![b'a', b'/', 0xff, 0x80]),
        ] {
            let json = serde_json::to_string(&path).unwrap();
            let back: RelPath = serde_json::from_str(&json).unwrap();
            assert_eq!(back, path, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&RelPath::from("a/b")).unwrap(),
            "\"a/b\""
        );
    }

    #[test]
    fn bad_hex_is_an_error_not_a_panic() {
        for json in ["\"\\u0000abc\"", "\"\\u0000zz\""] {
            assert!(serde_json::from_str::<RelPath>(json).is_err(), "{json}");
        }
    }
}
