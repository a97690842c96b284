//! Timestamps, windows and panes as Beam encodes them.

use super::primitive::{read_varint, write_varint};
use super::{Coder, CoderError, Context, take};

/// A Beam timestamp: milliseconds since the Unix epoch, within
/// [`Instant::MIN`]`..=`[`Instant::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    /// Beam's `BoundedWindow.TIMESTAMP_MIN_VALUE`: the earliest timestamp (minus infinity).
    pub const MIN: Instant = Instant(-9_223_372_036_854_775);
    /// Beam's `BoundedWindow.TIMESTAMP_MAX_VALUE`: the latest timestamp (plus infinity).
    pub const MAX: Instant = Instant(9_223_372_036_854_775);
    /// The global window's max timestamp: [`Instant::MAX`] minus one day, as in every SDK.
    pub const END_OF_GLOBAL_WINDOW: Instant = Instant(9_223_372_036_854_775 - 86_400_000);

    /// Appends the timestamp as Beam's `InstantCoder` does: 8 bytes, big-endian, sign bit
    /// flipped so that the bytes sort as the timestamps do.
    #[inline]
    pub fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&((self.0 as u64) ^ (1 << 63)).to_be_bytes());
    }

    /// Reads a timestamp written by [`Instant::encode`].
    #[inline]
    pub fn decode(input: &mut &[u8]) -> Result<Instant, CoderError> {
        let bytes = take(input, 8, "timestamp")?;
        let bits = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
        Ok(Instant((bits ^ (1 << 63)) as i64))
    }
}

/// A coder of windows, which knows each window's max timestamp (`beam:coder:custom_window:v1`
/// writes it first).
pub trait WindowCoder: Coder {
    /// The latest timestamp in `window`.
    fn max_timestamp(&self, window: &Self::Value) -> Instant;
}

/// The global window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GlobalWindow;

/// `beam:coder:global_window:v1`: no bytes at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalWindowCoder;

impl Coder for GlobalWindowCoder {
    type Value = GlobalWindow;

    fn encode(&self, _: &GlobalWindow, _: Context, _: &mut Vec<u8>) -> Result<(), CoderError> {
        Ok(())
    }

    fn decode(&self, _: &mut &[u8], _: Context) -> Result<GlobalWindow, CoderError> {
        Ok(GlobalWindow)
    }
}

impl WindowCoder for GlobalWindowCoder {
    fn max_timestamp(&self, _: &GlobalWindow) -> Instant {
        Instant::END_OF_GLOBAL_WINDOW
    }
}

/// The window `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntervalWindow {
    /// The first timestamp in the window.
    pub start: Instant,
    /// The first timestamp after it.
    pub end: Instant,
}

/// `beam:coder:interval_window:v1`: the end as a timestamp, then the span as a varint.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntervalWindowCoder;

impl Coder for IntervalWindowCoder {
    type Value = IntervalWindow;

    fn encode(&self, w: &IntervalWindow, _: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        let span = w
            .end
            .0
            .checked_sub(w.start.0)
            .filter(|s| *s >= 0)
            .ok_or_else(|| CoderError::Unrepresentable {
                coder: "interval_window",
                value: format!("{w:?} (it ends before it starts)"),
            })?;
        w.end.encode(out);
        write_varint(span, out);
        Ok(())
    }

    fn decode(&self, input: &mut &[u8], _: Context) -> Result<IntervalWindow, CoderError> {
        let end = Instant::decode(input)?;
        let span = read_varint(input)?;
        let start = end
            .0
            .checked_sub(span)
            .filter(|_| span >= 0)
            .ok_or_else(|| {
                CoderError::malformed(
                    "interval_window",
                    format!("a span of {span} ms before {end:?}"),
                )
            })?;
        Ok(IntervalWindow {
            start: Instant(start),
            end,
        })
    }
}

impl WindowCoder for IntervalWindowCoder {
    fn max_timestamp(&self, w: &IntervalWindow) -> Instant {
        Instant(w.end.0.saturating_sub(1))
    }
}

/// `beam:coder:custom_window:v1`: a window of a coder the runner does not know, after its max
/// timestamp (which is all the runner reads).
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomWindow<W>(pub W);

impl<W: WindowCoder> Coder for CustomWindow<W> {
    type Value = W::Value;

    fn encode(&self, w: &W::Value, context: Context, out: &mut Vec<u8>) -> Result<(), CoderError> {
        self.0.max_timestamp(w).encode(out);
        self.0.encode(w, context, out)
    }

    fn decode(&self, input: &mut &[u8], context: Context) -> Result<W::Value, CoderError> {
        let max = Instant::decode(input)?;
        let window = self.0.decode(input, context)?;
        let actual = self.0.max_timestamp(&window);
        if actual != max {
            return Err(CoderError::malformed(
                "custom_window",
                format!("the prefix says {max:?} but the window's max timestamp is {actual:?}"),
            ));
        }
        Ok(window)
    }
}

impl<W: WindowCoder> WindowCoder for CustomWindow<W> {
    fn max_timestamp(&self, w: &W::Value) -> Instant {
        self.0.max_timestamp(w)
    }
}

/// When a pane fired, relative to the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timing {
    /// Before the watermark passed the end of the window.
    Early,
    /// When it did.
    OnTime,
    /// After it did.
    Late,
    /// Not known (elements that were never grouped).
    Unknown,
}

/// Which firing of its window an element belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaneInfo {
    /// The first pane of its window.
    pub is_first: bool,
    /// The last pane of its window.
    pub is_last: bool,
    /// When it fired.
    pub timing: Timing,
    /// Its index among its window's panes.
    pub index: i64,
    /// Its index among the on-time and late panes (-1 for an early pane).
    pub on_time_index: i64,
}

impl PaneInfo {
    /// Beam's `NO_FIRING`: the pane of elements that were never grouped.
    pub const NO_FIRING: PaneInfo = PaneInfo {
        is_first: true,
        is_last: true,
        timing: Timing::Unknown,
        index: 0,
        on_time_index: 0,
    };

    /// Appends the pane as Beam's `PaneInfoCoder` does: one byte (the flags in the low
    /// nibble, how many indices follow in the high one), then zero, one or two varints.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let timing = match self.timing {
            Timing::Early => 0,
            Timing::OnTime => 1,
            Timing::Late => 2,
            Timing::Unknown => 3,
        };
        let flags = u8::from(self.is_first) | (u8::from(self.is_last) << 1) | (timing << 2);
        if (self.index == 0 && self.on_time_index == 0) || self.timing == Timing::Unknown {
            out.push(flags);
        } else if self.index == self.on_time_index || self.timing == Timing::Early {
            out.push(0x10 | flags);
            write_varint(self.index, out);
        } else {
            out.push(0x20 | flags);
            write_varint(self.index, out);
            write_varint(self.on_time_index, out);
        }
    }

    /// Reads a pane written by [`PaneInfo::encode`].
    pub fn decode(input: &mut &[u8]) -> Result<PaneInfo, CoderError> {
        let byte = take(input, 1, "pane")?[0];
        let timing = match (byte >> 2) & 3 {
            0 => Timing::Early,
            1 => Timing::OnTime,
            2 => Timing::Late,
            _ => Timing::Unknown,
        };
        let is_first = byte & 1 != 0;
        let is_last = byte & 2 != 0;
        let early = timing == Timing::Early;
        let (index, on_time_index) = match byte >> 4 {
            0 => (0, if early { -1 } else { 0 }),
            1 => {
                let index = read_varint(input)?;
                (index, if early { -1 } else { index })
            }
            2 => (read_varint(input)?, read_varint(input)?),
            e => {
                return Err(CoderError::malformed(
                    "pane",
                    format!("the encoding {e} in byte {byte:#04x} is not 0, 1 or 2"),
                ));
            }
        };
        Ok(PaneInfo {
            is_first,
            is_last,
            timing,
            index,
            on_time_index,
        })
    }
}
