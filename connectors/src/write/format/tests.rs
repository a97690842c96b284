use serde::Serialize;

use super::*;

/// Writes `records` as one file: header, records, footer.
fn file<T, F: FileFormat<T>>(format: &mut F, records: &[T]) -> String {
    let mut out = Vec::new();
    format.header(&records[0], &mut out).unwrap();
    for (i, r) in records.iter().enumerate() {
        format.record(r, i as u64, &mut out).unwrap();
    }
    format.footer(&mut out);
    String::from_utf8(out).unwrap()
}

#[derive(Serialize)]
struct Event {
    id: u32,
    name: String,
}

fn events() -> Vec<Event> {
    vec![
        Event {
            id: 1,
            name: "plain".into(),
        },
        Event {
            id: 2,
            name: "comma, \"quote\"\nnewline".into(),
        },
    ]
}

#[test]
fn text_writes_lines_between_header_and_footer() {
    let mut text = Text::new().header("# begin\n").footer("# end\n");
    assert_eq!(file(&mut text, &["a", "b"]), "# begin\na\nb\n# end\n");
    assert_eq!(FileFormat::<&str>::suffix(&text), ".txt");
}

#[test]
fn json_lines_and_arrays() {
    assert_eq!(
        file(&mut Json::lines(), &events()),
        "{\"id\":1,\"name\":\"plain\"}\n{\"id\":2,\"name\":\"comma, \\\"quote\\\"\\nnewline\"}\n"
    );
    let array = file(&mut Json::array(), &events());
    let parsed: serde_json::Value = serde_json::from_str(&array).unwrap();
    assert_eq!(parsed[1]["id"], 2);
    assert_eq!(file(&mut Json::array(), &[1]), "[\n1\n]\n");
}

#[test]
fn csv_quotes_fields_and_writes_headers() {
    let body = "1,plain\n2,\"comma, \"\"quote\"\"\nnewline\"\n";
    assert_eq!(file(&mut Csv::new(), &events()), body);
    assert_eq!(
        file(&mut Csv::with_header_from_records(), &events()),
        format!("id,name\n{body}")
    );
    assert_eq!(
        file(&mut Csv::with_header(["key", "n"]), &[("a", 1), ("b", 2)]),
        "key,n\na,1\nb,2\n"
    );
    // Tuples have no field names: no header.
    assert_eq!(
        file(&mut Csv::with_header_from_records(), &[("a", 1)]),
        "a,1\n"
    );
    assert_eq!(
        file(&mut Csv::new().delimiter(b';'), &[("a;b", 1)]),
        "\"a;b\";1\n"
    );
}

#[test]
fn csv_refuses_what_it_cannot_hold_and_recovers() {
    #[derive(Serialize)]
    struct Nested {
        inner: std::collections::BTreeMap<String, u32>,
    }
    let mut csv = Csv::new();
    let mut out = Vec::new();
    let nested = Nested {
        inner: [("k".to_string(), 1)].into(),
    };
    assert!(csv.record(&nested, 0, &mut out).is_err());
    assert!(out.is_empty());
    csv.record(&("ok", 1), 1, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "ok,1\n");
}
