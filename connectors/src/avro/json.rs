//! [`to_json`]: an Avro value as JSON, for printing (`sdf read --format avro`).

use apache_avro::types::Value;
use serde_json::{Map, Number, Value as Json};

/// An Avro value as JSON: records and maps are objects (keys in sorted order, as
/// `serde_json` keeps them), arrays arrays, a union its branch's
/// value, an enum its symbol, `bytes` and `fixed` arrays of numbers (0–255), logical types
/// their underlying number (a date is days since the epoch, a timestamp its count of units), a
/// UUID its hyphenated string, a decimal its unscaled big-endian bytes. Floating-point
/// values JSON cannot hold become the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, so
/// every value converts.
///
/// ```
/// use apache_avro::types::Value;
/// use sdf_connectors::avro::to_json;
/// let v = Value::Record(vec![
///     ("id".into(), Value::Long(7)),
///     ("tag".into(), Value::Union(1, Box::new(Value::String("a".into())))),
///     ("score".into(), Value::Double(f64::NAN)),
/// ]);
/// assert_eq!(to_json(v).to_string(), r#"{"id":7,"score":"NaN","tag":"a"}"#);
/// ```
pub fn to_json(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => Json::from(i),
        Value::Long(l)
        | Value::TimeMicros(l)
        | Value::TimestampMillis(l)
        | Value::TimestampMicros(l)
        | Value::TimestampNanos(l)
        | Value::LocalTimestampMillis(l)
        | Value::LocalTimestampMicros(l)
        | Value::LocalTimestampNanos(l) => Json::from(l),
        Value::Float(f) => float(f64::from(f)),
        Value::Double(d) => float(d),
        Value::Bytes(bytes) | Value::Fixed(_, bytes) => bytes_json(&bytes),
        Value::String(s) | Value::Enum(_, s) => Json::String(s),
        Value::Union(_, inner) => to_json(*inner),
        Value::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Value::Map(entries) => {
            let mut entries: Vec<_> = entries.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
        Value::Record(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Decimal(d) => match <Vec<u8>>::try_from(&d) {
            Ok(bytes) => bytes_json(&bytes),
            Err(_) => Json::String(format!("{d:?}")),
        },
        Value::BigDecimal(d) => Json::String(d.to_string()),
        Value::Duration(d) => bytes_json(&<[u8; 12]>::from(d)),
        Value::Uuid(u) => Json::String(u.hyphenated().to_string()),
    }
}

fn float(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".into()),
        None if f > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

fn bytes_json(bytes: &[u8]) -> Json {
    Json::Array(bytes.iter().map(|&b| Json::from(b)).collect())
}
