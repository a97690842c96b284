//! Values in windows (the elements of every Fn API data stream) and timers.

use super::compound::IterableCoder;
use super::primitive::StringUtf8;
use super::window::{Instant, PaneInfo, WindowCoder};
use super::{Bool, Coder, CoderError, Context};

/// A value with its event timestamp, the windows it is in and its pane.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowedValue<W, T> {
    /// The value.
    pub value: T,
    /// Its event time.
    pub timestamp: Instant,
    /// The windows it belongs to (one or more; the global window for unwindowed data).
    pub windows: Vec<W>,
    /// Which firing of its windows it came from.
    pub pane: PaneInfo,
}

/// `beam:coder:windowed_value:v1`: the timestamp, the windows (an iterable), the pane, then
/// the value in the windowed value's context (Java's `FullWindowedValueCoder`).
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowedValueCoder<W, C> {
    /// The windows' coder.
    pub window: W,
    /// The value's coder.
    pub value: C,
}

impl<W: WindowCoder, C: Coder> Coder for WindowedValueCoder<W, C> {
    type Value = WindowedValue<W::Value, C::Value>;

    fn encode(
        &self,
        v: &Self::Value,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        v.timestamp.encode(out);
        IterableCoder(&self.window).encode(&v.windows, Context::Nested, out)?;
        v.pane.encode(out);
        self.value.encode(&v.value, context, out)
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Self::Value, CoderError> {
        let timestamp = Instant::decode(input)?;
        let windows = IterableCoder(&self.window).decode(input, Context::Nested)?;
        let pane = PaneInfo::decode(input)?;
        let value = self.value.decode(input, context)?;
        Ok(WindowedValue {
            value,
            timestamp,
            windows,
            pane,
        })
    }
}

impl<C: Coder + ?Sized> Coder for &C {
    type Value = C::Value;

    fn encode(&self, v: &C::Value, context: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        (**self).encode(v, context, out)
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<C::Value, CoderError> {
        (**self).decode(input, context)
    }
}

/// `beam:coder:param_windowed_value:v1`: only the value is in the bytes; the timestamp, windows
/// and pane are the coder's own (its payload), the same for every element.
#[derive(Debug, Clone)]
pub struct ParamWindowedValue<W: WindowCoder, C> {
    window: W,
    value: C,
    timestamp: Instant,
    windows: Vec<W::Value>,
    pane: PaneInfo,
}

impl<W: WindowCoder, C: Coder> ParamWindowedValue<W, C> {
    /// The coder a payload describes: a windowed value's timestamp, windows and pane, as
    /// [`WindowedValueCoder`] writes them (the empty value after them is ignored).
    pub fn from_payload(window: W, value: C, payload: &[u8]) -> Result<Self, CoderError> {
        let mut input = payload;
        let timestamp = Instant::decode(&mut input)?;
        let windows = IterableCoder(&window).decode(&mut input, Context::Nested)?;
        let pane = PaneInfo::decode(&mut input)?;
        Ok(ParamWindowedValue {
            window,
            value,
            timestamp,
            windows,
            pane,
        })
    }

    /// The timestamp every element has.
    pub fn timestamp(&self) -> Instant {
        self.timestamp
    }

    /// The pane every element has.
    pub fn pane(&self) -> PaneInfo {
        self.pane
    }

    /// The windows every element is in.
    pub fn windows(&self) -> &[W::Value] {
        &self.windows
    }
}

impl<W, C> Coder for ParamWindowedValue<W, C>
where
    W: WindowCoder,
    W::Value: Clone + PartialEq + Send + Sync,
    C: Coder,
{
    type Value = WindowedValue<W::Value, C::Value>;

    fn encode(
        &self,
        v: &Self::Value,
        context: Context,
        out: &mut Vec<u8>,
    ) -> Result<(), CoderError> {
        // Writing only the value would give it the coder's metadata: refuse a value whose own
        // differs rather than change it silently.
        if v.timestamp != self.timestamp || v.pane != self.pane || v.windows != self.windows {
            return Err(CoderError::Unrepresentable {
                coder: "param_windowed_value",
                value: format!(
                    "a value at {:?} in {} windows, pane {:?} (the coder carries {:?}, {} windows, {:?})",
                    v.timestamp,
                    v.windows.len(),
                    v.pane,
                    self.timestamp,
                    self.windows.len(),
                    self.pane
                ),
            });
        }
        let _ = &self.window;
        self.value.encode(&v.value, context, out)
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<Self::Value, CoderError> {
        Ok(WindowedValue {
            value: self.value.decode(input, context)?,
            timestamp: self.timestamp,
            windows: self.windows.clone(),
            pane: self.pane,
        })
    }
}

/// When a set timer fires and what it holds the watermark at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerFiring {
    /// When the timer fires.
    pub fire_timestamp: Instant,
    /// The output watermark hold while it is set.
    pub hold_timestamp: Instant,
    /// The pane of its output.
    pub pane: PaneInfo,
}

/// A timer for a key in some windows: set (`firing` is `Some`) or cleared.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer<K, W> {
    /// The key it is set for.
    pub user_key: K,
    /// The tag of a timer family's member ("" for a plain timer).
    pub dynamic_timer_tag: String,
    /// Its windows.
    pub windows: Vec<W>,
    /// `None` when the timer is cleared.
    pub firing: Option<TimerFiring>,
}

/// `beam:coder:timer:v1`: the key and tag nested, the windows, the clear bit, then (when set)
/// the fire and hold timestamps and the pane.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimerCoder<K, W> {
    /// The key's coder.
    pub key: K,
    /// The windows' coder.
    pub window: W,
}

impl<K: Coder, W: WindowCoder> Coder for TimerCoder<K, W> {
    type Value = Timer<K::Value, W::Value>;

    fn encode(&self, t: &Self::Value, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        self.key.encode(&t.user_key, Context::Nested, out)?;
        StringUtf8.encode(&t.dynamic_timer_tag, Context::Nested, out)?;
        IterableCoder(&self.window).encode(&t.windows, Context::Nested, out)?;
        Bool.encode(&t.firing.is_none(), Context::Nested, out)?;
        if let Some(f) = &t.firing {
            f.fire_timestamp.encode(out);
            f.hold_timestamp.encode(out);
            f.pane.encode(out);
        }
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<Self::Value, CoderError> {
        let user_key = self.key.decode(input, Context::Nested)?;
        let dynamic_timer_tag = StringUtf8.decode(input, Context::Nested)?;
        let windows = IterableCoder(&self.window).decode(input, Context::Nested)?;
        let cleared = Bool.decode(input, Context::Nested)?;
        let firing = if cleared {
            None
        } else {
            Some(TimerFiring {
                fire_timestamp: Instant::decode(input)?,
                hold_timestamp: Instant::decode(input)?,
                pane: PaneInfo::decode(input)?,
            })
        };
        Ok(Timer {
            user_key,
            dynamic_timer_tag,
            windows,
            firing,
        })
    }
}
