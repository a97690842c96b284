//! Progress while a read runs (a bar on a terminal, a log line now and then otherwise) and the
//! summary at the end.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sdf_runtime::{MetricsHandle, StageMetrics};

/// Follows the stage named `stage` until dropped.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    task: tokio::task::JoinHandle<()>,
    started: Instant,
}

impl Progress {
    /// Shows progress of `total_bytes` on stderr: a bar on a terminal, plain lines every 5 s
    /// otherwise, nothing when `quiet`.
    pub fn start(
        metrics: MetricsHandle,
        stage: &'static str,
        total_bytes: u64,
        quiet: bool,
    ) -> Self {
        let started = Instant::now();
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} (ETA {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            let mut last_line = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let snapshot = metrics.snapshot();
                let Some(m) = find(&snapshot, stage) else {
                    continue;
                };
                let rate = m.outputs as f64 / started.elapsed().as_secs_f64().max(1e-9);
                match &shown {
                    Some(bar) => {
                        bar.set_position(m.work_completed as u64);
                        bar.set_message(format!("{} records, {}/s", m.outputs, human(rate)));
                    }
                    None if !quiet && last_line.elapsed() >= Duration::from_secs(5) => {
                        last_line = Instant::now();
                        eprintln!(
                            "sdf: {} of {} read, {} records ({}/s)",
                            bytes(m.work_completed as u64),
                            bytes(total_bytes),
                            m.outputs,
                            human(rate)
                        );
                    }
                    None => {}
                }
            }
        });
        Progress { bar, task, started }
    }

    /// Stops showing progress; the time since the start.
    pub fn finish(self) -> Duration {
        self.task.abort();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.started.elapsed()
    }
}

/// The stage named `name`.
pub(crate) fn find<'a>(metrics: &'a [StageMetrics], name: &str) -> Option<&'a StageMetrics> {
    metrics.iter().find(|m| m.name == name)
}

/// `1.2 MB`, in decimal units.
pub(crate) fn bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n} B"),
    }
}

/// `12.3 k`, `4.5 M`.
pub(crate) fn human(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.1} M", n / 1e6),
        n if n >= 1e3 => format!("{:.1} k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(214_300), "214.3 kB");
        assert_eq!(bytes(1_500_000_000), "1.50 GB");
        assert_eq!(human(43_000.0), "43.0 k");
        assert_eq!(human(12.0), "12");
    }
}
