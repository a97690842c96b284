//! Every case of Beam's `standard_coders.yaml`, read from the installed apache-beam 2.77.0 (not
//! a copy): each example decodes to its value in its context(s), consuming every byte, and,
//! where the coder is deterministic, the value encodes to exactly those bytes.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sdf_beam::coder::{
    AnyCoder, Coder, Context, Instant, IntervalWindow, Iterable, PaneInfo, ShardedKey, Timer,
    TimerFiring, Timing, Value, Window, WindowedValue, urn,
};
use serde_json::Value as Json;

/// The coders of the file this SDK does not implement, and why (a new URN in a future Beam
/// fails the test until it is implemented or listed here).
const NOT_IMPLEMENTED: &[(&str, &str)] = &[(
    urn::ROW,
    "schema rows: sdf's pipelines carry their own types in length_prefix(serde_json)",
)];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn coder(spec: &Json) -> AnyCoder {
    let components = spec["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(coder)
        .collect();
    AnyCoder::from_spec(
        spec["urn"].as_str().unwrap(),
        &hex(spec["payload"].as_str().unwrap()),
        components,
    )
    .unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn int(j: &Json) -> i64 {
    j.as_i64().unwrap_or_else(|| panic!("not an integer: {j}"))
}

fn pane(j: &Json) -> PaneInfo {
    PaneInfo {
        is_first: j["is_first"].as_bool().unwrap(),
        is_last: j["is_last"].as_bool().unwrap(),
        timing: match j["timing"].as_str().unwrap() {
            "EARLY" => Timing::Early,
            "ON_TIME" => Timing::OnTime,
            "LATE" => Timing::Late,
            "UNKNOWN" => Timing::Unknown,
            t => panic!("timing {t}"),
        },
        index: int(&j["index"]),
        on_time_index: int(&j["on_time_index"]),
    }
}

fn window(spec: &Json, j: &Json) -> Window {
    match spec["urn"].as_str().unwrap() {
        urn::GLOBAL_WINDOW => Window::Global,
        urn::INTERVAL_WINDOW => {
            let end = int(&j["end"]);
            Window::Interval(IntervalWindow {
                start: Instant(end - int(&j["span"])),
                end: Instant(end),
            })
        }
        urn::CUSTOM_WINDOW => window(&spec["components"][0], &j["window"]),
        other => panic!("window coder {other}"),
    }
}

fn windows(spec: &Json, j: &Json) -> Vec<Window> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|w| window(spec, w))
        .collect()
}

/// The value an example's JSON stands for, as Beam's `standard_coders_test.py` parses it.
fn value(spec: &Json, j: &Json) -> Value {
    let component = |i: usize| &spec["components"][i];
    match spec["urn"].as_str().unwrap() {
        urn::BYTES => Value::Bytes(j.as_str().unwrap().as_bytes().to_vec()),
        urn::STRING_UTF8 => Value::String(j.as_str().unwrap().to_string()),
        urn::VARINT => Value::Int(int(j)),
        urn::BOOL => Value::Bool(j.as_bool().unwrap()),
        urn::DOUBLE => Value::Double(match j.as_str().unwrap() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            s => s.parse().unwrap(),
        }),
        urn::KV => Value::Kv(Box::new((
            value(component(0), &j["key"]),
            value(component(1), &j["value"]),
        ))),
        urn::ITERABLE => Value::Iterable(
            j.as_array()
                .unwrap()
                .iter()
                .map(|e| value(component(0), e))
                .collect(),
        ),
        urn::STATE_BACKED_ITERABLE => Value::StateBacked(Iterable {
            elements: j
                .as_array()
                .unwrap()
                .iter()
                .map(|e| value(component(0), e))
                .collect(),
            continuation: None,
        }),
        urn::NULLABLE => Value::Nullable(match j {
            Json::Null => None,
            j => Some(Box::new(value(component(0), j))),
        }),
        urn::SHARDED_KEY => Value::ShardedKey(Box::new(ShardedKey {
            shard_id: j["shardId"].as_str().unwrap().as_bytes().to_vec(),
            key: value(component(0), &j["key"]),
        })),
        urn::GLOBAL_WINDOW | urn::INTERVAL_WINDOW | urn::CUSTOM_WINDOW => {
            Value::Window(window(spec, j))
        }
        urn::WINDOWED_VALUE | urn::PARAM_WINDOWED_VALUE => {
            Value::Windowed(Box::new(WindowedValue {
                value: value(component(0), &j["value"]),
                timestamp: Instant(int(&j["timestamp"])),
                windows: windows(component(1), &j["windows"]),
                pane: pane(&j["pane"]),
            }))
        }
        urn::TIMER => Value::Timer(Box::new(Timer {
            user_key: value(component(0), &j["userKey"]),
            dynamic_timer_tag: j["dynamicTimerTag"].as_str().unwrap().to_string(),
            windows: windows(component(1), &j["windows"]),
            firing: if j["clearBit"].as_bool().unwrap() {
                None
            } else {
                Some(TimerFiring {
                    fire_timestamp: Instant(int(&j["fireTimestamp"])),
                    hold_timestamp: Instant(int(&j["holdTimestamp"])),
                    pane: pane(&j["pane"]),
                })
            },
        })),
        other => panic!("no parser for {other}"),
    }
}

/// A state-backed iterable's continuation resolved the way a harness does: the token's state
/// holds the rest of the elements, encoded one after another.
fn resolve(decoded: Value, element: &AnyCoder, state: &BTreeMap<String, String>) -> Value {
    let Value::StateBacked(Iterable {
        mut elements,
        continuation: Some(token),
    }) = decoded
    else {
        return decoded;
    };
    let key: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let suffix = hex(&state[&key]);
    let mut rest = suffix.as_slice();
    while !rest.is_empty() {
        elements.push(element.decode(&mut rest, Context::Nested).unwrap());
    }
    Value::StateBacked(Iterable {
        elements,
        continuation: None,
    })
}

#[test]
fn every_standard_coder_case_of_the_beam_release_round_trips_exactly() {
    let file: Json = serde_json::from_slice(&support::run_script("standard_coders.py")).unwrap();
    assert_eq!(file["beam"], support::BEAM, "the venv's apache-beam");
    let not_implemented: BTreeSet<&str> = NOT_IMPLEMENTED.iter().map(|(u, _)| *u).collect();
    let (mut cases, mut examples, mut encodes, mut skipped) = (0, 0, 0, BTreeSet::new());
    for case in file["cases"].as_array().unwrap() {
        let spec = &case["coder"];
        let name = spec["urn"].as_str().unwrap();
        if not_implemented.contains(name) {
            skipped.insert(name.to_string());
            continue;
        }
        let coder = coder(spec);
        let state: BTreeMap<String, String> =
            serde_json::from_value(case["state"].clone()).unwrap();
        let contexts = match case["nested"].as_bool() {
            Some(true) => vec![Context::Nested],
            Some(false) => vec![Context::Outer],
            None => vec![Context::Nested, Context::Outer],
        };
        let deterministic = !spec["non_deterministic"].as_bool().unwrap();
        cases += 1;
        for example in case["examples"].as_array().unwrap() {
            let bytes = hex(example[0].as_str().unwrap());
            let want = value(spec, &example[1]);
            examples += 1;
            for &context in &contexts {
                let what = format!(
                    "{name} {context:?}, bytes {bytes:02x?}, value {}",
                    example[1]
                );
                let mut input = bytes.as_slice();
                let got = coder
                    .decode(&mut input, context)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(input.is_empty(), "{what}: {} bytes left", input.len());
                let got = match &coder {
                    AnyCoder::StateBacked(c) => resolve(got, &c.0, &state),
                    _ => got,
                };
                // Debug text compares doubles by their bits' meaning: -0 and NaN included.
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{what}: decoded");
                if deterministic {
                    let mut out = Vec::new();
                    coder
                        .encode(&want, context, &mut out)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(out, bytes, "{what}: encoded");
                    encodes += 1;
                }
            }
        }
    }
    println!(
        "{cases} cases, {examples} examples, {encodes} encodings checked; not implemented: {skipped:?}"
    );
    assert_eq!(
        skipped,
        not_implemented.iter().map(|s| s.to_string()).collect(),
        "every listed exception still occurs"
    );
    assert!(
        cases >= 30 && examples >= 80,
        "{cases} cases, {examples} examples: the file was not read whole"
    );
}
