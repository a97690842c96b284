use super::*;

fn names(path: &str) -> Vec<&str> {
    path.split('/').filter(|c| !c.is_empty()).collect()
}

#[test]
fn the_root_is_the_literal_prefix() {
    let cases = [
        ("/data/logs/*.txt", "/data/logs"),
        ("/data/2024-*/x/*.csv", "/data"),
        ("/*.txt", "/"),
        ("/data//logs/**", "/data/logs"),
        ("/data/a.txt", "/data/a.txt"),
    ];
    for (pattern, root) in cases {
        let p = Pattern::parse(pattern).unwrap();
        assert_eq!(p.root(), Path::new(root), "{pattern}");
    }
    let relative = Pattern::parse("logs/*.txt").unwrap();
    assert!(relative.root().is_absolute());
    assert!(relative.root().ends_with("logs"));
}

#[test]
fn matching_is_component_wise() {
    let cases = [
        ("/r/*.txt", "a.txt", true),
        ("/r/*.txt", "a/b.txt", false),
        ("/r/?.txt", "ab.txt", false),
        ("/r/?.txt", "a.txt", true),
        ("/r/[ab].txt", "b.txt", true),
        ("/r/[!ab].txt", "b.txt", false),
        ("/r/{x,y}.log", "y.log", true),
        ("/r/**/*.txt", "a.txt", true),
        ("/r/**/*.txt", "a/b/c.txt", true),
        ("/r/**", "a/b/c", true),
        ("/r/a/**/z", "a/z", true),
        ("/r/a/**/z", "a/b/c/z", true),
        ("/r/a/**/z", "b/z", false),
        ("/r/*/x/*.csv", "d/x/f.csv", true),
        ("/r/*/x/*.csv", "d/y/f.csv", false),
        ("/r/report\\[1\\].txt", "report[1].txt", true),
        ("/r/report\\[1\\].txt", "report1.txt", false),
    ];
    for (pattern, path, expected) in cases {
        let p = Pattern::parse(pattern).unwrap();
        let path = format!("/r/{path}");
        assert_eq!(
            p.is_match(Path::new(&path)),
            expected,
            "{pattern} vs {path}"
        );
    }
}

#[test]
fn hidden_names_need_a_literal_dot() {
    let cases = [
        ("/r/*", ".hidden", false),
        ("/r/.*", ".hidden", true),
        ("/r/**/*.log", ".cache/a.log", false),
        ("/r/.cache/*.log", ".cache/a.log", true),
        ("/r/*/*.log", ".cache/a.log", false),
        ("/r/?log", ".log", false),
    ];
    for (pattern, path, expected) in cases {
        let p = Pattern::parse(pattern).unwrap();
        let path = format!("/r/{path}");
        assert_eq!(
            p.is_match(Path::new(&path)),
            expected,
            "{pattern} vs {path}"
        );
    }
}

#[test]
fn directories_are_pruned_by_prefix() {
    let p = Pattern::parse("/r/2024-*/x/*.csv").unwrap();
    assert!(p.may_descend(&names("2024-01")));
    assert!(p.may_descend(&names("2024-01/x")));
    assert!(!p.may_descend(&names("2023-01")));
    assert!(!p.may_descend(&names("2024-01/y")));
    assert!(!p.may_descend(&names("2024-01/x/deeper")));
    assert_eq!(p.max_depth(), Some(3));
    let deep = Pattern::parse("/r/**/*.csv").unwrap();
    assert!(deep.may_descend(&names("a/b/c/d")));
    assert!(!deep.may_descend(&names("a/.git")));
    assert_eq!(deep.max_depth(), None);
}

#[test]
fn invalid_patterns_name_the_pattern() {
    let cases = [
        ("", "empty"),
        ("/r/a**/x", "a**"),
        ("/r/[ab/x", "[ab"),
        ("/r/{a,b", "{a,b"),
        ("/r/*/../x", "`..`"),
    ];
    for (pattern, fragment) in cases {
        let Err(e) = Pattern::parse(pattern) else {
            panic!("{pattern} parsed");
        };
        let e = e.to_string();
        assert!(
            e.contains(&format!("invalid file pattern {pattern}")),
            "{e}"
        );
        assert!(e.contains(fragment), "{pattern}: {e}");
    }
}

#[test]
fn wildcards_and_literal_paths() {
    let cases = [
        ("/r/*.txt", true, false),
        ("/r/a.txt", false, true),
        ("/r/a\\*b.txt", false, false),
        ("/r/{a,b}.txt", true, false),
    ];
    for (pattern, wildcard, literal) in cases {
        let p = Pattern::parse(pattern).unwrap();
        assert_eq!(p.has_wildcard(), wildcard, "{pattern}");
        assert_eq!(p.is_literal(), literal, "{pattern}");
    }
    let p = Pattern::parse("/r/a.txt").unwrap();
    assert!(p.is_match(Path::new("/r/a.txt")));
    assert!(!p.is_match(Path::new("/r/b.txt")));
    assert_eq!(p.literal_name().as_deref(), Some(OsStr::new("a.txt")));
}

#[test]
fn many_double_stars_stay_linear() {
    let p = Pattern::parse("/r/**/a/**/b/**/c/**/d/**/*.x").unwrap();
    let long: Vec<String> = (0..200).map(|i| format!("n{i}")).collect();
    assert!(!p.matches(&long));
    let mut hit = long.clone();
    hit.extend(["a", "b", "c", "d", "f.x"].map(String::from));
    assert!(p.matches(&hit));
}

#[test]
fn url_patterns_keep_their_base_as_root() {
    let cases = [
        ("s3://bucket/logs/**/*.csv", "s3://bucket/logs", false),
        ("s3://bucket/*.csv", "s3://bucket", false),
        ("memory:///t/a/2024-*/x.txt", "memory:///t/a", false),
        ("gs://b/k/a.txt", "gs://b/k/a.txt", true),
    ];
    for (pattern, root, literal) in cases {
        let p = Pattern::parse(pattern).unwrap();
        assert!(p.is_remote(), "{pattern}");
        assert_eq!(p.root().to_str(), Some(root), "{pattern}");
        assert_eq!(p.is_literal(), literal, "{pattern}");
    }
    assert!(!Pattern::parse("/data/*.csv").unwrap().is_remote());
    assert!(Pattern::parse("s3://bucket").is_err());
    assert!(Pattern::parse("s3://bucket/a**/x").is_err());
}

#[test]
fn url_patterns_match_urls_component_wise() {
    let cases = [
        ("s3://b/logs/**/*.csv", "s3://b/logs/x.csv", true),
        ("s3://b/logs/**/*.csv", "s3://b/logs/2024/05/x.csv", true),
        ("s3://b/logs/*.csv", "s3://b/logs/2024/x.csv", false),
        ("s3://b/logs/*.csv", "s3://b/logsx/a.csv", false),
        ("s3://b/logs/*.csv", "s3://c/logs/a.csv", false),
        ("s3://b/logs/*", "s3://b/logs/.hidden", false),
        ("s3://b/logs/a.csv", "s3://b/logs/a.csv", true),
        ("s3://b/logs/?.csv", "s3://b/logs//a.csv", false),
    ];
    for (pattern, url, expected) in cases {
        let p = Pattern::parse(pattern).unwrap();
        assert_eq!(p.is_match(Path::new(url)), expected, "{pattern} vs {url}");
    }
}
