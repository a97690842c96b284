//! Round trips of the typed coders in both contexts, and malformed input refused with a
//! message rather than decoded into something else. (Byte-exactness against Beam's SDKs is
//! `tests/standard_coders.rs`.)

use proptest::prelude::*;

use super::*;

fn round_trip<C: Coder>(coder: &C, value: &C::Value) -> Result<(), TestCaseError>
where
    C::Value: std::fmt::Debug + PartialEq,
{
    for context in [Context::Nested, Context::Outer] {
        let mut out = Vec::new();
        coder.encode(value, context, &mut out).unwrap();
        // Something after a nested value must be left alone.
        if context == Context::Nested {
            out.push(0xAB);
        }
        let mut input = out.as_slice();
        let back = coder.decode(&mut input, context).unwrap();
        prop_assert_eq!(&back, value);
        let left: &[u8] = if context == Context::Nested {
            &[0xAB]
        } else {
            &[]
        };
        prop_assert_eq!(input, left);
    }
    Ok(())
}

fn windowed() -> impl Strategy<Value = WindowedValue<IntervalWindow, (String, i64)>> {
    (
        any::<String>(),
        any::<i64>(),
        Instant::MIN.0..=Instant::MAX.0,
        proptest::collection::vec((-1_000_000i64..1_000_000, 0i64..1_000_000), 1..4),
        any::<(bool, bool)>(),
        0usize..4,
        0i64..1000,
        0i64..1000,
    )
        .prop_map(
            |(k, v, ts, windows, (first, last), timing, index, on_time)| {
                let timing = [Timing::Early, Timing::OnTime, Timing::Late, Timing::Unknown][timing];
                let (index, on_time_index) = match timing {
                    Timing::Early => (index, -1),
                    Timing::Unknown => (0, 0),
                    _ => (index, on_time),
                };
                WindowedValue {
                    value: (k, v),
                    timestamp: Instant(ts),
                    windows: windows
                        .into_iter()
                        .map(|(end, span)| IntervalWindow {
                            start: Instant(end - span),
                            end: Instant(end),
                        })
                        .collect(),
                    pane: PaneInfo {
                        is_first: first,
                        is_last: last,
                        timing,
                        index,
                        on_time_index,
                    },
                }
            },
        )
}

proptest! {
    #[test]
    fn varints_round_trip(v in any::<i64>()) {
        round_trip(&VarInt, &v)?;
    }

    #[test]
    fn bytes_and_strings_round_trip(b in proptest::collection::vec(any::<u8>(), 0..300), s in any::<String>()) {
        round_trip(&Bytes, &b)?;
        round_trip(&StringUtf8, &s)?;
        round_trip(&LengthPrefix(Bytes), &b)?;
        round_trip(&Nullable(StringUtf8), &Some(s))?;
    }

    #[test]
    fn doubles_keep_every_bit(bits in any::<u64>()) {
        let mut out = Vec::new();
        Double.encode(&f64::from_bits(bits), Context::Nested, &mut out).unwrap();
        let back = Double.decode_all(&out).unwrap();
        prop_assert_eq!(back.to_bits(), bits);
    }

    #[test]
    fn windowed_kvs_round_trip(v in windowed()) {
        let coder = WindowedValueCoder { window: IntervalWindowCoder, value: Kv(StringUtf8, VarInt) };
        round_trip(&coder, &v)?;
        let custom = WindowedValueCoder { window: CustomWindow(IntervalWindowCoder), value: Kv(StringUtf8, VarInt) };
        round_trip(&custom, &v)?;
    }

    #[test]
    fn iterables_round_trip(v in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..5), 0..50)) {
        round_trip(&IterableCoder(Bytes), &v)?;
        round_trip(&StateBackedIterable(Bytes), &Iterable { elements: v.clone(), continuation: None })?;
        round_trip(&StateBackedIterable(Bytes), &Iterable { elements: v, continuation: Some(b"token".to_vec()) })?;
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let coders = [
            AnyCoder::from_spec(urn::KV, &[], vec![AnyCoder::String, AnyCoder::VarInt]).unwrap(),
            AnyCoder::from_spec(urn::ITERABLE, &[], vec![AnyCoder::Bytes]).unwrap(),
            AnyCoder::from_spec(urn::WINDOWED_VALUE, &[], vec![
                AnyCoder::from_spec(urn::LENGTH_PREFIX, &[], vec![AnyCoder::Bytes]).unwrap(),
                AnyCoder::from_spec(urn::INTERVAL_WINDOW, &[], vec![]).unwrap(),
            ]).unwrap(),
            AnyCoder::from_spec(urn::TIMER, &[], vec![
                AnyCoder::Bytes,
                AnyCoder::from_spec(urn::GLOBAL_WINDOW, &[], vec![]).unwrap(),
            ]).unwrap(),
        ];
        for coder in &coders {
            for context in [Context::Nested, Context::Outer] {
                let _ = coder.decode(&mut bytes.as_slice(), context);
            }
        }
    }
}

#[test]
fn serde_types_travel_length_prefixed() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Range {
        start: u64,
        end: u64,
        weight: f64,
    }
    let coder = SerdeJson::<Range>::length_prefixed();
    let value = Range {
        start: 3,
        end: 9,
        weight: 0.1 + 0.2,
    };
    let mut out = Vec::new();
    coder.encode(&value, Context::Nested, &mut out).unwrap();
    let json = br#"{"start":3,"end":9,"weight":0.30000000000000004}"#;
    assert_eq!(out[0] as usize, json.len(), "a varint length first");
    assert_eq!(&out[1..], json);
    assert_eq!(coder.decode_all(&out).unwrap(), value);
    let err = SerdeJson::<Range>::new()
        .decode_all(b"{\"start\":3}")
        .unwrap_err();
    assert!(err.to_string().contains("missing field `end`"), "{err}");
}

#[test]
fn malformed_input_is_an_error_that_says_what() {
    let cases: Vec<(CoderError, &str)> = vec![
        (
            VarInt.decode_all(&[0x80, 0x80]).unwrap_err(),
            "ends 1 bytes before",
        ),
        (
            VarInt.decode_all(&[0xff; 11]).unwrap_err(),
            "more than 64 bits",
        ),
        (
            VarInt
                .decode_all(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .unwrap_err(),
            "more than 64 bits",
        ),
        (Bool.decode_all(&[2]).unwrap_err(), "0x02 is not 0 or 1"),
        (
            StringUtf8.decode_all(b"ab\xffc").unwrap_err(),
            "invalid UTF-8 at byte 2",
        ),
        (
            Bytes
                .decode(&mut &[5, b'a'][..], Context::Nested)
                .unwrap_err(),
            "ends 4 bytes before",
        ),
        (
            LengthPrefix(VarInt).decode_all(&[2, 1, 1]).unwrap_err(),
            "1 bytes are left",
        ),
        (
            Nullable(VarInt).decode_all(&[7]).unwrap_err(),
            "0x07 is not 0 or 1",
        ),
        (
            PaneInfo::decode(&mut &[0x3f][..]).unwrap_err(),
            "encoding 3",
        ),
        (
            IterableCoder(Bytes)
                .decode_all(&[0x7f, 0xff, 0xff, 0xff])
                .unwrap_err(),
            "ends 1 bytes before",
        ),
        (
            IterableCoder(Bytes)
                .decode_all(&[0xff, 0xff, 0xff, 0xfe])
                .unwrap_err(),
            "a count of -2",
        ),
        (
            IterableCoder(VarInt)
                .decode_all(&[
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0x01, 0x01, b't',
                ])
                .unwrap_err(),
            "not state-backed",
        ),
        (
            IntervalWindowCoder
                .decode_all(&[0, 0, 0, 0, 0, 0, 0, 0, 20])
                .unwrap_err(),
            "a span of 20 ms",
        ),
        (VarInt.decode_all(&[1, 2]).unwrap_err(), "1 bytes are left"),
    ];
    for (err, want) in cases {
        assert!(
            err.to_string().contains(want),
            "{err:?} should say {want:?}"
        );
    }
}

#[test]
fn a_custom_window_whose_prefix_lies_is_refused() {
    let w = IntervalWindow {
        start: Instant(0),
        end: Instant(10),
    };
    let mut out = Vec::new();
    CustomWindow(IntervalWindowCoder)
        .encode(&w, Context::Nested, &mut out)
        .unwrap();
    assert_eq!(
        &out[..8],
        &{
            let mut t = Vec::new();
            Instant(9).encode(&mut t);
            t
        }[..]
    );
    out[7] = 8;
    let err = CustomWindow(IntervalWindowCoder)
        .decode_all(&out)
        .unwrap_err();
    assert!(err.to_string().contains("max timestamp"), "{err}");
}

#[test]
fn a_param_windowed_value_refuses_a_value_with_other_metadata() {
    let mut payload = Vec::new();
    WindowedValueCoder {
        window: GlobalWindowCoder,
        value: Bytes,
    }
    .encode(
        &WindowedValue {
            value: vec![],
            timestamp: Instant(1000),
            windows: vec![GlobalWindow],
            pane: PaneInfo::NO_FIRING,
        },
        Context::Nested,
        &mut payload,
    )
    .unwrap();
    let coder = ParamWindowedValue::from_payload(GlobalWindowCoder, VarInt, &payload).unwrap();
    let mut v = WindowedValue {
        value: 5,
        timestamp: Instant(1000),
        windows: vec![GlobalWindow],
        pane: PaneInfo::NO_FIRING,
    };
    assert_eq!(coder.encode_to_vec(&v).unwrap(), [5]);
    assert_eq!(coder.decode_all(&[5]).unwrap(), v);
    v.timestamp = Instant(1001);
    let err = coder.encode_to_vec(&v).unwrap_err();
    assert!(err.to_string().contains("the coder carries"), "{err}");
}

#[test]
fn specs_the_sdk_cannot_build_say_why() {
    let err = AnyCoder::from_spec(urn::ROW, &[], vec![]).unwrap_err();
    assert!(err.to_string().contains("length_prefix"), "{err}");
    let err = AnyCoder::from_spec(urn::KV, &[], vec![AnyCoder::Bytes]).unwrap_err();
    assert!(err.to_string().contains("1 components, not 2"), "{err}");
    let err = AnyCoder::from_spec(
        urn::WINDOWED_VALUE,
        &[],
        vec![AnyCoder::Bytes, AnyCoder::Bytes],
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a window coder"), "{err}");
    let err = AnyCoder::VarInt
        .encode_to_vec(&Value::String("x".into()))
        .unwrap_err();
    assert!(
        err.to_string().contains("varint cannot encode String"),
        "{err}"
    );
    let mut coders = std::collections::HashMap::new();
    coders.insert(
        "loop".to_string(),
        crate::proto::pipeline::Coder {
            spec: Some(crate::proto::pipeline::FunctionSpec {
                urn: urn::ITERABLE.into(),
                payload: vec![],
            }),
            component_coder_ids: vec!["loop".into()],
        },
    );
    let err = AnyCoder::from_proto("loop", &coders).unwrap_err();
    assert!(err.to_string().contains("a cycle"), "{err}");
}

#[test]
fn inside_a_length_prefix_an_unknown_coder_is_bytes() {
    let spec = |urn: &str, components: &[&str]| crate::proto::pipeline::Coder {
        spec: Some(crate::proto::pipeline::FunctionSpec {
            urn: urn.into(),
            payload: vec![],
        }),
        component_coder_ids: components.iter().map(|c| c.to_string()).collect(),
    };
    let coders: std::collections::HashMap<_, _> = [
        ("json".to_string(), spec(urn::SDF_SERDE_JSON, &[])),
        ("lp".to_string(), spec(urn::LENGTH_PREFIX, &["json"])),
    ]
    .into();
    let coder = AnyCoder::from_proto("lp", &coders).unwrap();
    assert_eq!(
        coder.decode_all(b"\x03[1]").unwrap(),
        Value::Bytes(b"[1]".to_vec())
    );
    // Alone, it is still refused: nothing says how long it is.
    assert!(AnyCoder::from_proto("json", &coders).is_err());
}
