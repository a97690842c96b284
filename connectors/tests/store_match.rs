//! Matching objects in an object store (an `InMemory` store under a `memory:///` prefix): glob
//! rules, key order, key ranges, the empty-match policy, and `MatchAll` through the kit.
#![cfg(feature = "object-store")]

mod match_support;
mod store_support;

use match_support::TestDir;
use sdf_connectors::{
    EmptyMatch, Error, ListOptions, MatchAll, MatchFiles, MatchOptions, Pattern, list_files,
    match_pattern,
};
use sdf_core::testing::{check_sdf_exhaustive, run_to_completion};
use sdf_core::{ByteKey, ByteKeyRange};
use store_support::Bucket;

const TREE: &[&str] = &[
    "logs/a.csv",
    "logs/a-c.csv",
    "logs/a/b.csv",
    "logs/b.txt",
    "logs/x1.csv",
    "logs/x2.csv",
    "logs/y.csv",
    "logs/.hidden.csv",
    "logs/2024/c.csv",
    "logs/2024/05/d.csv",
    "logs/.cache/e.csv",
    "logsx/f.csv",
    "other/z.csv",
];

/// The same tree in a bucket and in a local directory.
fn trees() -> (Bucket, TestDir) {
    let bucket = Bucket::new("match");
    let dir = TestDir::new("store-match");
    for (i, key) in TREE.iter().enumerate() {
        bucket.put(key, key.repeat(i + 1));
        dir.file(key, &key.repeat(i + 1));
    }
    (bucket, dir)
}

/// The paths below the pattern's root and sizes, in listing order.
fn list(pattern: &str, range: &ByteKeyRange) -> Vec<(String, u64)> {
    let pattern = Pattern::parse(pattern).unwrap();
    list_files(&pattern, range, ListOptions::default())
        .map(|f| f.map(|f| (f.rel.to_string(), f.file.size)))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn globs_list_the_same_objects_in_the_same_order_as_local_files() {
    let (bucket, dir) = trees();
    let cases = [
        (
            "logs/*.csv",
            vec!["a-c.csv", "a.csv", "x1.csv", "x2.csv", "y.csv"],
        ),
        ("logs/x?.csv", vec!["x1.csv", "x2.csv"]),
        ("logs/[ay].csv", vec!["a.csv", "y.csv"]),
        ("logs/[!ay]*.csv", vec!["x1.csv", "x2.csv"]),
        (
            "logs/**/*.csv",
            vec![
                "2024/05/d.csv",
                "2024/c.csv",
                "a/b.csv",
                "a-c.csv",
                "a.csv",
                "x1.csv",
                "x2.csv",
                "y.csv",
            ],
        ),
        ("logs/.*.csv", vec![".hidden.csv"]),
        ("logs/.cache/*", vec!["e.csv"]),
        ("*/f.csv", vec!["logsx/f.csv"]),
        ("logs/2024/**", vec!["05/d.csv", "c.csv"]),
        ("logs/a.csv", vec!["a.csv"]),
        ("logs/none.csv", vec![]),
        ("nothing/*", vec![]),
    ];
    for (glob, expected) in cases {
        let remote = list(&bucket.url(glob), &ByteKeyRange::all());
        let names: Vec<&str> = remote.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected, "{glob}");
        let local = list(&dir.pattern(glob), &ByteKeyRange::all());
        assert_eq!(remote, local, "{glob}: sizes and order as a local listing");
    }
}

#[test]
fn listed_objects_carry_their_url_size_and_time() {
    let bucket = Bucket::new("meta");
    bucket.put("in/a.csv", "12345");
    let files = match_pattern(&bucket.url("in/*.csv"), MatchOptions::default()).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].path.to_str(),
        Some(bucket.url("in/a.csv").as_str())
    );
    assert_eq!(files[0].size, 5);
    let age = sdf_core::Timestamp::now().as_micros() - files[0].modified.as_micros();
    assert!(
        (0..60_000_000).contains(&age),
        "modified {:?}",
        files[0].modified
    );
}

#[test]
fn a_key_range_lists_only_its_part_and_the_parts_add_up() {
    let (bucket, _dir) = trees();
    let pattern = bucket.url("logs/**/*.csv");
    let all = list(&pattern, &ByteKeyRange::all());
    let cut = ByteKey::from(b"a\0".to_vec());
    let low = list(&pattern, &ByteKeyRange::new(ByteKey::empty(), cut.clone()));
    let high = list(&pattern, &ByteKeyRange::new(cut, ByteKey::empty()));
    assert_eq!(
        low.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["2024/05/d.csv", "2024/c.csv"]
    );
    assert_eq!(low.iter().chain(&high).cloned().collect::<Vec<_>>(), all);
}

#[test]
fn match_all_splits_a_remote_listing_through_the_kit() {
    let (bucket, _dir) = trees();
    let pattern = bucket.url("logs/**/*.csv");
    let files = run_to_completion(&MatchAll::new(), &pattern).unwrap();
    assert_eq!(files.len(), 8);
    let report = check_sdf_exhaustive(&MatchAll::new(), &pattern).unwrap();
    assert_eq!(report.records, 8);
}

#[test]
fn empty_matches_follow_the_policy() {
    let bucket = Bucket::new("empty");
    bucket.put("in/a.txt", "a");
    let wildcard = bucket.url("in/*.csv");
    let literal = bucket.url("in/b.csv");
    let allow_if = MatchOptions::default();
    assert!(match_pattern(&wildcard, allow_if).unwrap().is_empty());
    let e = match_pattern(&literal, allow_if).unwrap_err();
    assert!(
        matches!(&e, Error::NoMatch { pattern } if *pattern == literal),
        "{e}"
    );
    let e = MatchFiles::new([wildcard.clone()]).run().unwrap_err();
    assert!(e.to_string().contains(&wildcard), "{e}");
    let allow = MatchFiles::new([literal]).empty_match(EmptyMatch::Allow);
    assert!(allow.run().unwrap().is_empty());
}

#[test]
fn a_scheme_without_its_feature_names_the_feature() {
    #[cfg(not(feature = "s3"))]
    {
        let e = match_pattern("s3://bucket/logs/*.csv", MatchOptions::default()).unwrap_err();
        assert!(
            matches!(e, Error::StoreUnavailable { feature: "s3", .. }),
            "{e}"
        );
        assert!(e.to_string().contains("s3://bucket/logs"), "{e}");
    }
    let e = match_pattern("ftp://host/logs/*.csv", MatchOptions::default()).unwrap_err();
    assert!(e.to_string().contains("ftp://host/logs"), "{e}");
}

/// A store that cannot be built from the environment names the URL (no request is sent: the
/// Azure builder refuses a missing account before any).
#[cfg(feature = "azure")]
#[test]
fn a_store_without_its_settings_is_an_error_naming_the_url() {
    if std::env::var_os("AZURE_STORAGE_ACCOUNT_NAME").is_some() {
        return;
    }
    let e = match_pattern("az://container/logs/*.csv", MatchOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Store { .. }), "{e}");
    assert!(e.to_string().contains("az://container/logs"), "{e}");
}
