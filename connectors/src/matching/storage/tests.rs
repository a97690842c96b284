use super::*;
use crate::matching::testdir::TestDir;

fn list(pattern: &str, range: &ByteKeyRange, options: ListOptions) -> Result<Vec<String>> {
    let pattern = Pattern::parse(pattern)?;
    list_files(&pattern, range, options)
        .map(|f| f.map(|f| f.rel.to_string()))
        .collect()
}

fn tree() -> TestDir {
    let dir = TestDir::new("tree");
    for rel in [
        "a.txt",
        "a/b.txt",
        "a/c/d.txt",
        "a-c.txt",
        "b.log",
        ".hidden.txt",
        "z/y.txt",
    ] {
        dir.file(rel, rel);
    }
    dir
}

#[test]
fn listings_are_sorted_component_by_component() {
    let dir = tree();
    let all = list(
        &dir.pattern("**/*.txt"),
        &ByteKeyRange::all(),
        ListOptions::default(),
    );
    assert_eq!(
        all.unwrap(),
        ["a/b.txt", "a/c/d.txt", "a-c.txt", "a.txt", "z/y.txt"]
    );
    let top = list(
        &dir.pattern("*"),
        &ByteKeyRange::all(),
        ListOptions::default(),
    );
    assert_eq!(top.unwrap(), ["a-c.txt", "a.txt", "b.log"]);
}

#[test]
fn a_key_range_lists_only_its_part() {
    let dir = tree();
    let pattern = dir.pattern("**/*.txt");
    let cases = [
        (
            ByteKeyRange::new("a\0c", "a.txt"),
            vec!["a/c/d.txt", "a-c.txt"],
        ),
        (
            ByteKeyRange::new("a\0c\0d.txt\0", ""),
            vec!["a-c.txt", "a.txt", "z/y.txt"],
        ),
        (ByteKeyRange::new("", "a\0"), vec![]),
        (ByteKeyRange::new("b", "z\0y.txt"), vec![]),
    ];
    for (range, expected) in cases {
        let got = list(&pattern, &range, ListOptions::default()).unwrap();
        assert_eq!(got, expected, "{range:?}");
    }
}

#[test]
fn sizes_and_times_are_listed() {
    let dir = TestDir::new("meta");
    let path = dir.file("x.txt", "12345");
    let time = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(time)
        .unwrap();
    let pattern = Pattern::parse(&dir.pattern("*.txt")).unwrap();
    let files: Vec<ListedFile> = list_files(&pattern, &ByteKeyRange::all(), ListOptions::default())
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file.path, path);
    assert_eq!(files[0].file.size, 5);
    assert_eq!(
        files[0].file.modified,
        Timestamp::from_millis(1_700_000_000_000)
    );
}

#[test]
fn literal_paths() {
    let dir = tree();
    let all = ByteKeyRange::all();
    let opts = ListOptions::default();
    assert_eq!(list(&dir.pattern("a.txt"), &all, opts).unwrap(), ["a.txt"]);
    assert!(
        list(&dir.pattern("missing.txt"), &all, opts)
            .unwrap()
            .is_empty()
    );
    let e = list(&dir.pattern("a"), &all, opts).unwrap_err().to_string();
    assert!(
        e.contains("is a directory") && e.contains(&dir.pattern("a")),
        "{e}"
    );
    assert!(
        list(&dir.pattern("nowhere/*.txt"), &all, opts)
            .unwrap()
            .is_empty()
    );
}

#[cfg(unix)]
#[test]
fn symlink_loops_do_not_hang() {
    use std::os::unix::fs::symlink;
    let dir = tree();
    symlink(dir.path(), dir.path().join("a/loop")).unwrap();
    symlink(dir.path().join("self"), dir.path().join("self")).unwrap();
    symlink(dir.path().join("a.txt"), dir.path().join("link.txt")).unwrap();
    symlink(dir.path().join("gone"), dir.path().join("broken.txt")).unwrap();
    let all = ByteKeyRange::all();
    let plain = list(&dir.pattern("**/*.txt"), &all, ListOptions::default()).unwrap();
    assert_eq!(
        plain,
        [
            "a/b.txt",
            "a/c/d.txt",
            "a-c.txt",
            "a.txt",
            "link.txt",
            "z/y.txt"
        ]
    );
    let followed = list(
        &dir.pattern("**/*.txt"),
        &all,
        ListOptions::default().follow_symlinks(true),
    );
    assert_eq!(followed.unwrap(), plain);
}

#[cfg(unix)]
#[test]
fn unreadable_directories_are_errors_naming_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree();
    let locked = dir.path().join("a/c");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let privileged = std::fs::read_dir(&locked).is_ok();
    let result = list(
        &dir.pattern("**/*.txt"),
        &ByteKeyRange::all(),
        ListOptions::default(),
    );
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    if privileged {
        // Running as root: permissions do not apply. A root through a file fails the same way.
        let e = list(
            &dir.pattern("a.txt/sub/*.txt"),
            &ByteKeyRange::all(),
            ListOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(&format!(
                "listing {}",
                dir.path().join("a.txt/sub").display()
            )),
            "{e}"
        );
    } else {
        let e = result.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("listing {}", locked.display())),
            "{e}"
        );
    }
}
