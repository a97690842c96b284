//! The URNs of Beam's standard coders (`beam_runner_api.proto`, `StandardCoders`).

/// Bytes, as is.
pub const BYTES: &str = "beam:coder:bytes:v1";
/// UTF-8 text.
pub const STRING_UTF8: &str = "beam:coder:string_utf8:v1";
/// A signed 64-bit integer as an unsigned LEB128 varint of its two's complement.
pub const VARINT: &str = "beam:coder:varint:v1";
/// One byte, 0 or 1.
pub const BOOL: &str = "beam:coder:bool:v1";
/// An IEEE 754 double, big-endian.
pub const DOUBLE: &str = "beam:coder:double:v1";
/// A key and a value.
pub const KV: &str = "beam:coder:kv:v1";
/// A sequence, its length first (or in blocks when unknown).
pub const ITERABLE: &str = "beam:coder:iterable:v1";
/// An iterable whose tail may be in the runner's state, behind a token.
pub const STATE_BACKED_ITERABLE: &str = "beam:coder:state_backed_iterable:v1";
/// A value after its length: what a runner carries without understanding it.
pub const LENGTH_PREFIX: &str = "beam:coder:length_prefix:v1";
/// A value or nothing.
pub const NULLABLE: &str = "beam:coder:nullable:v1";
/// A key with a shard id.
pub const SHARDED_KEY: &str = "beam:coder:sharded_key:v1";
/// A value with its timestamp, windows and pane.
pub const WINDOWED_VALUE: &str = "beam:coder:windowed_value:v1";
/// A value whose timestamp, windows and pane are the coder's (its payload).
pub const PARAM_WINDOWED_VALUE: &str = "beam:coder:param_windowed_value:v1";
/// The global window (no bytes).
pub const GLOBAL_WINDOW: &str = "beam:coder:global_window:v1";
/// A window `[end - span, end)`.
pub const INTERVAL_WINDOW: &str = "beam:coder:interval_window:v1";
/// A window of another SDK, after its max timestamp.
pub const CUSTOM_WINDOW: &str = "beam:coder:custom_window:v1";
/// A timer.
pub const TIMER: &str = "beam:coder:timer:v1";
/// A schema row (not implemented by this SDK).
pub const ROW: &str = "beam:coder:row:v1";

/// Our own serde types, as JSON: always inside [`LENGTH_PREFIX`], so that runners need not
/// know it.
pub const SDF_SERDE_JSON: &str = "sdf:coder:serde_json:v1";
