//! Coders the runner names at run time, and the values they code.

use std::collections::HashMap;

use super::compound::{
    Iterable, IterableCoder, Kv, LengthPrefix, Nullable, ShardedKey, ShardedKeyCoder,
    StateBackedIterable,
};
use super::primitive::{Bool, Bytes, Double, StringUtf8, VarInt};
use super::window::{
    CustomWindow, GlobalWindowCoder, Instant, IntervalWindow, IntervalWindowCoder, WindowCoder,
};
use super::windowed::{ParamWindowedValue, Timer, TimerCoder, WindowedValue, WindowedValueCoder};
use super::{Coder, CoderError, Context, urn};
use crate::proto::pipeline;

/// A window of a dynamic coder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The global window.
    Global,
    /// An interval window.
    Interval(IntervalWindow),
}

/// A value of a dynamic coder ([`AnyCoder`]): one variant per shape of Beam's standard coders.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `string_utf8`.
    String(String),
    /// `varint`.
    Int(i64),
    /// `bool`.
    Bool(bool),
    /// `double`.
    Double(f64),
    /// `kv`.
    Kv(Box<(Value, Value)>),
    /// `iterable`.
    Iterable(Vec<Value>),
    /// `state_backed_iterable`.
    StateBacked(Iterable<Value>),
    /// `nullable`.
    Nullable(Option<Box<Value>>),
    /// `sharded_key`.
    ShardedKey(Box<ShardedKey<Value>>),
    /// `global_window`, `interval_window`, `custom_window`.
    Window(Window),
    /// `windowed_value`, `param_windowed_value`.
    Windowed(Box<WindowedValue<Window, Value>>),
    /// `timer`.
    Timer(Box<Timer<Value, Window>>),
}

/// A window coder named at run time.
#[derive(Debug, Clone)]
pub enum AnyWindowCoder {
    /// `beam:coder:global_window:v1`.
    Global,
    /// `beam:coder:interval_window:v1`.
    Interval,
    /// `beam:coder:custom_window:v1` around another window coder.
    Custom(Box<AnyWindowCoder>),
}

impl Coder for AnyWindowCoder {
    type Value = Window;

    fn encode(&self, w: &Window, context: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        match (self, w) {
            (AnyWindowCoder::Global, Window::Global) => Ok(()),
            (AnyWindowCoder::Interval, Window::Interval(i)) => {
                IntervalWindowCoder.encode(i, context, out)
            }
            (AnyWindowCoder::Custom(inner), w) => CustomWindow(&**inner).encode(w, context, out),
            (coder, w) => Err(CoderError::Unrepresentable {
                coder: coder.name(),
                value: format!("{w:?}"),
            }),
        }
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Window, CoderError> {
        match self {
            AnyWindowCoder::Global => Ok(Window::Global),
            AnyWindowCoder::Interval => Ok(Window::Interval(
                IntervalWindowCoder.decode(input, context)?,
            )),
            AnyWindowCoder::Custom(inner) => CustomWindow(&**inner).decode(input, context),
        }
    }
}

impl WindowCoder for AnyWindowCoder {
    fn max_timestamp(&self, w: &Window) -> Instant {
        match w {
            Window::Global => GlobalWindowCoder.max_timestamp(&super::GlobalWindow),
            Window::Interval(i) => IntervalWindowCoder.max_timestamp(i),
        }
    }
}

impl<W: WindowCoder + ?Sized> WindowCoder for &W {
    fn max_timestamp(&self, w: &W::Value) -> Instant {
        (**self).max_timestamp(w)
    }
}

impl AnyWindowCoder {
    fn name(&self) -> &'static str {
        match self {
            AnyWindowCoder::Global => "global_window",
            AnyWindowCoder::Interval => "interval_window",
            AnyWindowCoder::Custom(_) => "custom_window",
        }
    }
}

/// A coder named at run time by a `Coder` proto: Beam's standard coders composed from the
/// typed ones in this module.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyCoder {
    /// `bytes`.
    Bytes,
    /// `string_utf8`.
    String,
    /// `varint`.
    VarInt,
    /// `bool`.
    Bool,
    /// `double`.
    Double,
    /// `kv`.
    Kv(Box<Kv<AnyCoder, AnyCoder>>),
    /// `iterable`.
    Iterable(Box<IterableCoder<AnyCoder>>),
    /// `state_backed_iterable`.
    StateBacked(Box<StateBackedIterable<AnyCoder>>),
    /// `length_prefix`.
    LengthPrefix(Box<LengthPrefix<AnyCoder>>),
    /// `nullable`.
    Nullable(Box<Nullable<AnyCoder>>),
    /// `sharded_key`.
    ShardedKey(Box<ShardedKeyCoder<AnyCoder>>),
    /// A window coder.
    Window(AnyWindowCoder),
    /// `windowed_value`.
    Windowed(Box<WindowedValueCoder<AnyWindowCoder, AnyCoder>>),
    /// `param_windowed_value`.
    ParamWindowed(Box<ParamWindowedValue<AnyWindowCoder, AnyCoder>>),
    /// `timer`.
    Timer(Box<TimerCoder<AnyCoder, AnyWindowCoder>>),
}

/// How deep a coder spec may nest (a cycle in a malformed pipeline would not end).
const MAX_DEPTH: usize = 64;

impl AnyCoder {
    /// The coder with this URN, payload and components.
    pub fn from_spec(
        urn: &str,
        payload: &[u8],
        mut components: Vec<AnyCoder>,
    ) -> Result<AnyCoder, CoderError> {
        let want = |n: usize| -> Result<(), CoderError> {
            if components.len() == n {
                Ok(())
            } else {
                Err(CoderError::Spec {
                    urn: urn.to_string(),
                    detail: format!("{} components, not {n}", components.len()),
                })
            }
        };
        let window = |c: AnyCoder| -> Result<AnyWindowCoder, CoderError> {
            match c {
                AnyCoder::Window(w) => Ok(w),
                other => Err(CoderError::Spec {
                    urn: urn.to_string(),
                    detail: format!(
                        "its window component is {}, not a window coder",
                        other.name()
                    ),
                }),
            }
        };
        Ok(match urn {
            urn::BYTES => AnyCoder::Bytes,
            urn::STRING_UTF8 => AnyCoder::String,
            urn::VARINT => AnyCoder::VarInt,
            urn::BOOL => AnyCoder::Bool,
            urn::DOUBLE => AnyCoder::Double,
            urn::GLOBAL_WINDOW => AnyCoder::Window(AnyWindowCoder::Global),
            urn::INTERVAL_WINDOW => AnyCoder::Window(AnyWindowCoder::Interval),
            urn::KV => {
                want(2)?;
                let v = components.pop().expect("2");
                let k = components.pop().expect("2");
                AnyCoder::Kv(Box::new(Kv(k, v)))
            }
            urn::ITERABLE => {
                want(1)?;
                AnyCoder::Iterable(Box::new(IterableCoder(components.pop().expect("1"))))
            }
            urn::STATE_BACKED_ITERABLE => {
                want(1)?;
                AnyCoder::StateBacked(Box::new(StateBackedIterable(components.pop().expect("1"))))
            }
            urn::LENGTH_PREFIX => {
                want(1)?;
                AnyCoder::LengthPrefix(Box::new(LengthPrefix(components.pop().expect("1"))))
            }
            urn::NULLABLE => {
                want(1)?;
                AnyCoder::Nullable(Box::new(Nullable(components.pop().expect("1"))))
            }
            urn::SHARDED_KEY => {
                want(1)?;
                AnyCoder::ShardedKey(Box::new(ShardedKeyCoder(components.pop().expect("1"))))
            }
            urn::CUSTOM_WINDOW => {
                want(1)?;
                let inner = window(components.pop().expect("1"))?;
                AnyCoder::Window(AnyWindowCoder::Custom(Box::new(inner)))
            }
            urn::WINDOWED_VALUE | urn::PARAM_WINDOWED_VALUE => {
                want(2)?;
                let w = window(components.pop().expect("2"))?;
                let value = components.pop().expect("2");
                if urn == urn::WINDOWED_VALUE {
                    AnyCoder::Windowed(Box::new(WindowedValueCoder { window: w, value }))
                } else {
                    AnyCoder::ParamWindowed(Box::new(ParamWindowedValue::from_payload(
                        w, value, payload,
                    )?))
                }
            }
            urn::TIMER => {
                want(2)?;
                let w = window(components.pop().expect("2"))?;
                let key = components.pop().expect("2");
                AnyCoder::Timer(Box::new(TimerCoder { key, window: w }))
            }
            other => {
                return Err(CoderError::Spec {
                    urn: other.to_string(),
                    detail: "not a coder this SDK implements (a runner wraps coders an SDK \
                             does not declare in beam:coder:length_prefix:v1)"
                        .to_string(),
                });
            }
        })
    }

    /// The coder `id` of a pipeline's or bundle descriptor's coders, with its components.
    pub fn from_proto(
        id: &str,
        coders: &HashMap<String, pipeline::Coder>,
    ) -> Result<AnyCoder, CoderError> {
        Self::from_proto_at(id, coders, 0)
    }

    fn from_proto_at(
        id: &str,
        coders: &HashMap<String, pipeline::Coder>,
        depth: usize,
    ) -> Result<AnyCoder, CoderError> {
        let spec_error = |detail: String| CoderError::Spec {
            urn: id.to_string(),
            detail,
        };
        if depth > MAX_DEPTH {
            return Err(spec_error(format!(
                "nested more than {MAX_DEPTH} deep (a cycle?)"
            )));
        }
        let coder = coders
            .get(id)
            .ok_or_else(|| spec_error("no coder has this id".to_string()))?;
        let spec = coder
            .spec
            .as_ref()
            .ok_or_else(|| spec_error("the coder has no spec".to_string()))?;
        let components = coder
            .component_coder_ids
            .iter()
            .map(|c| match Self::from_proto_at(c, coders, depth + 1) {
                // Inside a length prefix a coder this SDK does not know is opaque bytes, as
                // it is to a runner (our own `sdf:coder:serde_json:v1` among them).
                Err(CoderError::Spec { .. }) if spec.urn == urn::LENGTH_PREFIX => {
                    Ok(AnyCoder::Bytes)
                }
                other => other,
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_spec(&spec.urn, &spec.payload, components)
    }

    fn name(&self) -> &'static str {
        match self {
            AnyCoder::Bytes => "bytes",
            AnyCoder::String => "string_utf8",
            AnyCoder::VarInt => "varint",
            AnyCoder::Bool => "bool",
            AnyCoder::Double => "double",
            AnyCoder::Kv(_) => "kv",
            AnyCoder::Iterable(_) => "iterable",
            AnyCoder::StateBacked(_) => "state_backed_iterable",
            AnyCoder::LengthPrefix(_) => "length_prefix",
            AnyCoder::Nullable(_) => "nullable",
            AnyCoder::ShardedKey(_) => "sharded_key",
            AnyCoder::Window(w) => w.name(),
            AnyCoder::Windowed(_) => "windowed_value",
            AnyCoder::ParamWindowed(_) => "param_windowed_value",
            AnyCoder::Timer(_) => "timer",
        }
    }
}

impl Coder for AnyCoder {
    type Value = Value;

    fn encode(&self, value: &Value, context: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        match (self, value) {
            (AnyCoder::Bytes, Value::Bytes(b)) => Bytes.encode(b, context, out),
            (AnyCoder::String, Value::String(s)) => StringUtf8.encode(s, context, out),
            (AnyCoder::VarInt, Value::Int(i)) => VarInt.encode(i, context, out),
            (AnyCoder::Bool, Value::Bool(b)) => Bool.encode(b, context, out),
            (AnyCoder::Double, Value::Double(d)) => Double.encode(d, context, out),
            (AnyCoder::Kv(c), Value::Kv(kv)) => c.encode(kv, context, out),
            (AnyCoder::Iterable(c), Value::Iterable(v)) => c.encode(v, context, out),
            (AnyCoder::StateBacked(c), Value::StateBacked(v)) => c.encode(v, context, out),
            (AnyCoder::LengthPrefix(c), v) => c.encode(v, context, out),
            (AnyCoder::Nullable(c), Value::Nullable(v)) => {
                c.encode_option(v.as_deref(), context, out)
            }
            (AnyCoder::ShardedKey(c), Value::ShardedKey(v)) => c.encode(v, context, out),
            (AnyCoder::Window(c), Value::Window(w)) => c.encode(w, context, out),
            (AnyCoder::Windowed(c), Value::Windowed(v)) => c.encode(v, context, out),
            (AnyCoder::ParamWindowed(c), Value::Windowed(v)) => c.encode(v, context, out),
            (AnyCoder::Timer(c), Value::Timer(t)) => c.encode(t, context, out),
            (coder, value) => {
                let mut shown = format!("{value:?}");
                if shown.len() > 120 {
                    let mut cut = 120;
                    while !shown.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    shown.truncate(cut);
                    shown.push('…');
                }
                Err(CoderError::Unrepresentable {
                    coder: coder.name(),
                    value: shown,
                })
            }
        }
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Value, CoderError> {
        Ok(match self {
            AnyCoder::Bytes => Value::Bytes(Bytes.decode(input, context)?),
            AnyCoder::String => Value::String(StringUtf8.decode(input, context)?),
            AnyCoder::VarInt => Value::Int(VarInt.decode(input, context)?),
            AnyCoder::Bool => Value::Bool(Bool.decode(input, context)?),
            AnyCoder::Double => Value::Double(Double.decode(input, context)?),
            AnyCoder::Kv(c) => Value::Kv(Box::new(c.decode(input, context)?)),
            AnyCoder::Iterable(c) => Value::Iterable(c.decode(input, context)?),
            AnyCoder::StateBacked(c) => Value::StateBacked(c.decode(input, context)?),
            AnyCoder::LengthPrefix(c) => c.decode(input, context)?,
            AnyCoder::Nullable(c) => Value::Nullable(c.decode(input, context)?.map(Box::new)),
            AnyCoder::ShardedKey(c) => Value::ShardedKey(Box::new(c.decode(input, context)?)),
            AnyCoder::Window(c) => Value::Window(c.decode(input, context)?),
            AnyCoder::Windowed(c) => Value::Windowed(Box::new(c.decode(input, context)?)),
            AnyCoder::ParamWindowed(c) => Value::Windowed(Box::new(c.decode(input, context)?)),
            AnyCoder::Timer(c) => Value::Timer(Box::new(c.decode(input, context)?)),
        })
    }
}
