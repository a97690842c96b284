//! `TailFile` call by call, each call resumed from the previous one's serialized residual (as
//! after a restart): growth, incomplete lines, rotation, truncation, where to start, limits.

mod tail_support;

use std::fs;
use std::time::Duration;

use sdf_connectors::{StartAt, TailFile, Truncation};
use sdf_core::ProcessContinuation;
use tail_support::*;

fn tail() -> TailFile {
    TailFile::new().poll_delay(Duration::from_millis(7))
}

#[test]
fn growth_is_read_as_it_comes_and_the_call_resumes_after_the_poll_delay() {
    let dir = TempDir::new("tail-growth");
    let log = dir.join("app.log");
    append(&log, "a\nbb\n");
    let mut f = Follower::new(tail(), &log);
    let first = f.poll().unwrap();
    assert_eq!(first.texts(), ["a", "bb"]);
    assert_eq!(first.lines[1].offset, 2);
    assert_eq!(
        first.continuation,
        ProcessContinuation::resume_after(Duration::from_millis(7))
    );
    assert!(f.lines().is_empty(), "nothing new, nothing emitted");
    append(&log, "c\n");
    assert_eq!(f.lines(), ["c"]);
    append(&log, "d\ne\n");
    let call = f.poll().unwrap();
    assert_eq!(call.texts(), ["d", "e"]);
    let offsets: Vec<u64> = call.lines.iter().map(|l| l.offset).collect();
    assert_eq!(offsets, [7, 9]);
}

#[test]
fn an_incomplete_last_line_waits_for_its_newline() {
    let dir = TempDir::new("tail-partial");
    let log = dir.join("app.log");
    append(&log, "one\ntw");
    let mut f = Follower::new(tail(), &log);
    assert_eq!(f.lines(), ["one"]);
    append(&log, "o");
    assert!(f.lines().is_empty());
    append(&log, "\r\nthree\n");
    assert_eq!(f.lines(), ["two", "three"]);
}

#[test]
fn rotation_finishes_the_old_file_then_follows_the_new_one() {
    let dir = TempDir::new("tail-rotate");
    let log = dir.join("app.log");
    append(&log, "a\n");
    let mut f = Follower::new(tail(), &log);
    assert_eq!(f.lines(), ["a"]);
    fs::rename(&log, dir.join("app.log.1")).unwrap();
    // The writer still has the old file open and writes to it before it reopens the name.
    append(&dir.join("app.log.1"), "b\nunfinished");
    assert_eq!(
        f.lines(),
        ["b"],
        "no file under the name yet: the old one is read, its incomplete line waits"
    );
    append(&log, "c\n");
    let call = f.poll().unwrap();
    let seen: Vec<(u32, u64, &str)> = call
        .lines
        .iter()
        .map(|l| (l.generation, l.offset, l.line.as_str()))
        .collect();
    assert_eq!(
        seen,
        [(0, 4, "unfinished"), (1, 0, "c")],
        "the old file's incomplete last line is final once the writer moved on"
    );
    assert!(call.lines.iter().all(|l| l.path == log));
    append(&log, "d\n");
    assert_eq!(f.lines(), ["d"]);
}

#[test]
fn a_restart_from_a_serialized_residual_finds_the_rotated_file_by_identity() {
    let dir = TempDir::new("tail-restart");
    let log = dir.join("app.log");
    append(&log, "a\nb\n");
    let mut f = Follower::new(tail(), &log);
    assert_eq!(f.lines(), ["a", "b"]);
    let saved = f.restriction.clone().unwrap();
    // While the pipeline is down: more lines, a rotation, and a second rotation.
    append(&log, "c\n");
    fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, "d\n");
    // A new process, a new DoFn: only the serialized residual carries over.
    let restarted = call(&tail(), &metadata(&log), &saved).unwrap();
    assert_eq!(restarted.texts(), ["c", "d"]);
    assert_eq!(restarted.lines[1].generation, 1);
}

#[test]
fn a_rotated_file_deleted_before_it_was_read_is_skipped_with_a_warning() {
    let dir = TempDir::new("tail-deleted");
    let log = dir.join("app.log");
    append(&log, "a\n");
    let mut f = Follower::new(tail(), &log);
    assert_eq!(f.lines(), ["a"]);
    append(&log, "lost\n");
    fs::rename(&log, dir.join("app.log.1")).unwrap();
    fs::remove_file(dir.join("app.log.1")).unwrap();
    append(&log, "c\n");
    let call = f.poll().unwrap();
    assert_eq!(call.texts(), ["c"]);
    assert_eq!(call.lines[0].generation, 1);
}

#[test]
fn truncation_restarts_from_the_new_content_by_default() {
    let dir = TempDir::new("tail-truncate");
    let log = dir.join("app.log");
    append(&log, "aaa\nbbb\n");
    let mut f = Follower::new(tail(), &log);
    assert_eq!(f.lines(), ["aaa", "bbb"]);
    // Truncated and rewritten shorter than what was read, between two polls.
    fs::write(&log, "d\n").unwrap();
    let call = f.poll().unwrap();
    assert_eq!(call.texts(), ["d"]);
    assert_eq!((call.lines[0].generation, call.lines[0].offset), (1, 0));
    // Emptied (`> app.log`), then written to.
    fs::write(&log, "").unwrap();
    assert!(f.lines().is_empty());
    append(&log, "e\n");
    let call = f.poll().unwrap();
    assert_eq!(call.texts(), ["e"]);
    assert_eq!((call.lines[0].generation, call.lines[0].offset), (2, 0));
}

/// `: > a.log; echo t1 >> a.log` within one poll: the file grew past the old position again,
/// so its size alone does not tell. The fingerprint of the last line read does.
#[test]
fn a_truncation_the_file_grew_past_within_one_poll_is_seen_by_its_fingerprint() {
    let dir = TempDir::new("tail-truncate-regrow");
    let log = dir.join("a.log");
    append(&log, "x\n");
    let mut f = Follower::new(tail(), &log);
    assert_eq!(f.lines(), ["x"]);
    fs::write(&log, "").unwrap();
    append(&log, "t1\n");
    let call = f.poll().unwrap();
    assert_eq!(call.texts(), ["t1"], "t1 starts before the old position 2");
    assert_eq!((call.lines[0].generation, call.lines[0].offset), (1, 0));
    // The same bytes written again are the same file as far as anyone can tell: no restart.
    append(&log, "t2\n");
    assert_eq!(f.lines(), ["t2"]);
    // Rewritten longer, different content before the position.
    fs::write(&log, "rewritten and longer\nmore\n").unwrap();
    assert_eq!(f.lines(), ["rewritten and longer", "more"]);
}

#[test]
fn truncation_fails_naming_the_path_and_offset_when_asked() {
    let dir = TempDir::new("tail-truncate-fail");
    let log = dir.join("app.log");
    append(&log, "aaa\nbbb\n");
    let mut f = Follower::new(tail().on_truncation(Truncation::Fail), &log);
    assert_eq!(f.lines(), ["aaa", "bbb"]);
    fs::write(&log, "x").unwrap();
    let message = f.poll().unwrap_err().to_string();
    assert!(message.contains(&log.display().to_string()), "{message}");
    assert!(message.contains("truncated to 1 bytes"), "{message}");
    assert!(message.contains("at byte 5"), "{message}");
    assert!(message.contains("Truncation::Restart"), "{message}");
}

#[test]
fn start_at_end_skips_what_was_listed() {
    let dir = TempDir::new("tail-start-end");
    let log = dir.join("app.log");
    append(&log, "old\n");
    let mut f = Follower::new(tail().start_at(StartAt::End), &log);
    append(&log, "new\n");
    assert_eq!(f.lines(), ["new"]);
    // Listed in the middle of a line: that line is skipped whole.
    let mut f = Follower::new(tail().start_at(StartAt::End), &log);
    f.input.size = 2;
    assert_eq!(f.lines(), ["new"]);
}

#[test]
fn a_missing_file_is_waited_for() {
    let dir = TempDir::new("tail-missing");
    let log = dir.join("later.log");
    let mut f = Follower::new(tail(), &log);
    let call = f.poll().unwrap();
    assert!(call.lines.is_empty());
    assert!(matches!(
        call.continuation,
        ProcessContinuation::Resume { .. }
    ));
    append(&log, "here\n");
    assert_eq!(f.lines(), ["here"]);
}

#[test]
fn a_line_longer_than_the_limit_is_an_error_naming_file_and_offset() {
    let dir = TempDir::new("tail-long");
    let log = dir.join("app.log");
    append(&log, "ok\n0123456789abcdef\n");
    let mut f = Follower::new(tail().max_line_bytes(10), &log);
    let message = f.poll().unwrap_err().to_string();
    assert!(message.contains(&log.display().to_string()), "{message}");
    assert!(message.contains("at byte 3"), "{message}");
    assert!(message.contains("max_line_bytes"), "{message}");
}

#[test]
fn invalid_utf8_is_replaced_and_crlf_stripped() {
    let dir = TempDir::new("tail-bytes");
    let log = dir.join("app.log");
    fs::write(&log, b"caf\xc3\xa9\r\nbad \xff byte\n\n").unwrap();
    let mut f = Follower::new(tail(), &log);
    assert_eq!(f.lines(), ["café", "bad \u{fffd} byte", ""]);
}

#[test]
fn stop_at_end_emits_the_last_line_without_newline_and_stops() {
    let dir = TempDir::new("tail-stop");
    let log = dir.join("app.log");
    append(&log, "a\nlast");
    let mut f = Follower::new(tail().stop_at_end(), &log);
    let call = f.poll().unwrap();
    assert_eq!(call.texts(), ["a", "last"]);
    assert_eq!(call.continuation, ProcessContinuation::Stop);
    assert!(call.residual.is_none());
}
