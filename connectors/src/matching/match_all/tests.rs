use super::*;
use crate::matching::testdir::TestDir;

#[test]
fn empty_match_policies() {
    let dir = TestDir::new("empty");
    dir.file("a.txt", "a");
    let wildcard = dir.pattern("*.csv");
    let literal = dir.pattern("missing.csv");
    let cases = [
        ("allow, wildcard", EmptyMatch::Allow, &wildcard, true),
        ("allow, literal", EmptyMatch::Allow, &literal, true),
        ("disallow, wildcard", EmptyMatch::Disallow, &wildcard, false),
        ("disallow, literal", EmptyMatch::Disallow, &literal, false),
        (
            "if wildcard, wildcard",
            EmptyMatch::AllowIfWildcard,
            &wildcard,
            true,
        ),
        (
            "if wildcard, literal",
            EmptyMatch::AllowIfWildcard,
            &literal,
            false,
        ),
    ];
    for (case, policy, pattern, ok) in cases {
        let options = MatchOptions {
            empty_match: policy,
            ..MatchOptions::default()
        };
        match match_pattern(pattern, options) {
            Ok(files) => assert!(ok && files.is_empty(), "{case}"),
            Err(e) => {
                assert!(!ok, "{case}: {e}");
                assert!(
                    e.to_string()
                        .contains(&format!("pattern {pattern} matches no file"))
                );
            }
        }
    }
}

#[test]
fn match_files_runs_patterns_in_order() {
    let dir = TestDir::new("order");
    for name in ["b.txt", "a.txt", "c.csv"] {
        dir.file(name, name);
    }
    let files = MatchFiles::new([dir.pattern("*.txt"), dir.pattern("*.csv")])
        .run()
        .unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.txt", "b.txt", "c.csv"]);
    let invalid = MatchFiles::new(["/x/a**"]).run().unwrap_err().to_string();
    assert!(invalid.contains("invalid file pattern /x/a**"), "{invalid}");
}
