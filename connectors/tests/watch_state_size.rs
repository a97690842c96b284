//! The state of a continuous match stays small however many files it has seen: synthetic
//! listings through the same poll logic the SDF runs, no disk.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use sdf_connectors::{
    Admission, FileMetadata, ListedFile, RelPath, WatchPolicy, WatchRestriction, WatchState,
};
use sdf_core::Timestamp;

/// File `i` of a day that produces `per_day` files evenly, with a realistic path.
fn file(i: u64, per_day: u64) -> ListedFile {
    let micros = 1_700_000_000_000_000 + (i * 86_400_000_000 / per_day) as i64;
    let rel = format!(
        "2026/11/{:02}/host-{:02}/part-{i:09}.log",
        1 + i * 30 / per_day.max(1) % 30,
        i % 17
    );
    ListedFile {
        rel: RelPath::from(rel.as_str()),
        file: FileMetadata {
            path: PathBuf::from("/data/incoming").join(&rel),
            size: 4096,
            modified: Timestamp::from_micros(micros),
        },
    }
}

fn checkpoint_bytes(state: &WatchState) -> usize {
    serde_json::to_vec(&WatchRestriction::Polling(state.clone()))
        .unwrap()
        .len()
}

/// Polls `total` files arriving `per_poll` at a time; `relist` lists every file seen so far at
/// each poll (as a directory listing does), otherwise only the new ones. Returns the state and
/// the number of files emitted.
/// The default policy, with every listed file complete: these listings show a file once, and
/// the settle rule needs two listings of it.
fn whole_files() -> WatchPolicy {
    WatchPolicy {
        settle: Duration::ZERO,
        ..WatchPolicy::default()
    }
}

fn watch(
    total: u64,
    per_poll: u64,
    per_day: u64,
    relist: bool,
    policy: &WatchPolicy,
) -> (WatchState, u64) {
    let mut state = WatchState::new();
    let mut emitted = 0;
    let mut listed_up_to = 0;
    while listed_up_to < total {
        let from = if relist { 0 } else { listed_up_to };
        listed_up_to = (listed_up_to + per_poll).min(total);
        let listing = (from..listed_up_to).map(|i| Ok::<_, Infallible>(file(i, per_day)));
        let now = file(listed_up_to, per_day).file.modified;
        let round = state.poll(listing, now, policy).unwrap();
        emitted += round.files.len() as u64;
        state = round.next.unwrap();
    }
    (state, emitted)
}

#[test]
fn a_hundred_thousand_files_relisted_at_every_poll() {
    let policy = WatchPolicy {
        admission: Admission::unlimited(),
        ..whole_files()
    };
    let (state, emitted) = watch(100_000, 5_000, 100_000, true, &policy);
    assert_eq!(emitted, 100_000, "every file once, none twice");
    let bytes = checkpoint_bytes(&state);
    eprintln!(
        "100k files seen (100k/day, allowance 5 min): {} remembered, checkpoint {bytes} bytes",
        state.remembered()
    );
    assert!(bytes < 64 * 1024, "{bytes} bytes");
}

#[test]
fn a_million_files_keep_the_checkpoint_under_a_megabyte() {
    let policy = whole_files();
    let (state, emitted) = watch(1_000_000, 10_000, 1_000_000, false, &policy);
    assert_eq!(emitted, 1_000_000);
    let bytes = checkpoint_bytes(&state);
    eprintln!(
        "1M files seen (1M/day, allowance 5 min): {} remembered, checkpoint {bytes} bytes",
        state.remembered()
    );
    assert!(bytes <= 1_000_000, "{bytes} bytes");
    // What the state costs is the files modified within the allowance: an hour keeps ~12×.
    let hour = WatchPolicy {
        late_allowance: Duration::from_secs(3600),
        ..WatchPolicy::default()
    };
    let (state, _) = watch(1_000_000, 10_000, 1_000_000, false, &hour);
    eprintln!(
        "1M files seen (1M/day, allowance 1 h): {} remembered, checkpoint {} bytes",
        state.remembered(),
        checkpoint_bytes(&state)
    );
}
