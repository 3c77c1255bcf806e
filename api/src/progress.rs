//! Progress of the long commands (`import`, `reindex`, `generate`) on stderr: a bar with total, rate and ETA
//! when stderr is a terminal, and otherwise a plain line every 2 seconds (and one at the end), such as
//! `reindex: 12000/100000 services (6000/s, ETA 13s)`, which reads well in a log or a CI job.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the plain lines are written.
pub const LINE_EVERY: Duration = Duration::from_secs(2);

/// A progress report; clones report to the same place (a callback can own one).
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

struct Inner {
    label: String,
    unit: &'static str,
    total: Option<u64>,
    started: Instant,
    output: Output,
}

enum Output {
    Bar(indicatif::ProgressBar),
    Lines(Mutex<LineState>),
}

struct LineState {
    last_line: Instant,
    done: u64,
    detail: String,
    finished: bool,
}

impl Progress {
    /// Progress of `label` counting `unit`s up to `total` (None: not known, so no ETA), drawn as a bar when
    /// stderr is a terminal.
    pub fn new(label: impl Into<String>, unit: &'static str, total: Option<u64>) -> Self {
        Self::with_output(label, unit, total, std::io::stderr().is_terminal())
    }

    fn with_output(label: impl Into<String>, unit: &'static str, total: Option<u64>, terminal: bool) -> Self {
        let label = label.into();
        let started = Instant::now();
        let output = if terminal {
            let bar = match total {
                Some(total) => indicatif::ProgressBar::new(total).with_style(
                    indicatif::ProgressStyle::with_template(&format!(
                        "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec:0}}, ETA {{eta}}) {{msg}}"
                    ))
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
                None => indicatif::ProgressBar::new_spinner().with_style(
                    indicatif::ProgressStyle::with_template(&format!(
                        "{{prefix}} {{spinner}} {{pos}} {unit} ({{per_sec:0}}, {{elapsed}}) {{msg}}"
                    ))
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                ),
            };
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            Output::Bar(bar)
        } else {
            Output::Lines(Mutex::new(LineState {
                last_line: started,
                done: 0,
                detail: String::new(),
                finished: false,
            }))
        };
        Progress(Arc::new(Inner {
            label,
            unit,
            total,
            started,
            output,
        }))
    }

    /// `done` units so far.
    pub fn set(&self, done: u64) {
        self.update(done, None);
    }

    /// `done` units so far, and a few words more (e.g. `4000 services` while importing lines).
    pub fn set_with(&self, done: u64, detail: impl Into<String>) {
        self.update(done, Some(detail.into()));
    }

    fn update(&self, done: u64, detail: Option<String>) {
        let inner = &self.0;
        match &inner.output {
            Output::Bar(bar) => {
                bar.set_position(done);
                if let Some(detail) = detail {
                    bar.set_message(detail);
                }
            }
            Output::Lines(state) => {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                state.done = done;
                if let Some(detail) = detail {
                    state.detail = detail;
                }
                let now = Instant::now();
                if now.duration_since(state.last_line) >= LINE_EVERY {
                    state.last_line = now;
                    eprintln!("{}", inner.line(&state, now.duration_since(inner.started), false));
                }
            }
        }
    }

    /// Ends the report: leaves the bar at its end, or writes the last plain line (once). Dropping the last clone ends it
    /// too.
    pub fn finish(&self) {
        self.0.finish();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Inner {
    fn finish(&self) {
        let inner = self;
        match &inner.output {
            Output::Bar(bar) => bar.finish(),
            Output::Lines(state) => {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                if !state.finished {
                    state.finished = true;
                    eprintln!("{}", inner.line(&state, inner.started.elapsed(), true));
                }
            }
        }
    }

    fn line(&self, state: &LineState, elapsed: Duration, last: bool) -> String {
        plain_line(
            &self.label,
            self.unit,
            state.done,
            self.total,
            elapsed,
            &state.detail,
            last,
        )
    }
}

/// `reindex: 12000/100000 services (6000/s, ETA 13s)`; without a total `import: 12000 services (6000/s)`;
/// the last line says how long it took instead of the ETA.
fn plain_line(
    label: &str,
    unit: &str,
    done: u64,
    total: Option<u64>,
    elapsed: Duration,
    detail: &str,
    last: bool,
) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 { done as f64 / seconds } else { 0.0 };
    let count = match total {
        Some(total) => format!("{done}/{total}"),
        None => done.to_string(),
    };
    let when = if last {
        format!(", in {}", duration(elapsed))
    } else {
        match total {
            Some(total) if rate > 0.0 => {
                let left = total.saturating_sub(done) as f64 / rate;
                format!(", ETA {}", duration(Duration::from_secs_f64(left.min(1e9))))
            }
            _ => String::new(),
        }
    };
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!("; {detail}")
    };
    format!("{label}: {count} {unit} ({rate:.0}/s{when}){detail}")
}

/// `13s`, `2m05s`, `1h02m`.
fn duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().round() as u64;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_show_count_rate_and_eta() {
        assert_eq!(
            plain_line(
                "reindex",
                "services",
                12_000,
                Some(100_000),
                Duration::from_secs(2),
                "",
                false
            ),
            "reindex: 12000/100000 services (6000/s, ETA 15s)"
        );
        assert_eq!(
            plain_line("generate", "services", 6_000, None, Duration::from_secs(3), "", false),
            "generate: 6000 services (2000/s)"
        );
        assert_eq!(
            plain_line(
                "import a.ndjson",
                "lines",
                500,
                Some(500),
                Duration::from_millis(125_400),
                "1200 services",
                true
            ),
            "import a.ndjson: 500/500 lines (4/s, in 2m05s); 1200 services"
        );
        assert_eq!(duration(Duration::from_secs(3725)), "1h02m");
        // nothing done yet: no rate, no ETA, no division by zero
        assert_eq!(
            plain_line("reindex", "services", 0, Some(10), Duration::ZERO, "", false),
            "reindex: 0/10 services (0/s)"
        );
    }

    #[test]
    fn plain_output_finishes_once() {
        let progress = Progress::with_output("reindex", "services", Some(10), false);
        let callback = {
            let progress = progress.clone();
            move |n| progress.set(n)
        };
        (0..=10).for_each(callback);
        progress.finish();
        progress.finish();
        let Output::Lines(state) = &progress.0.output else {
            panic!("not a terminal: plain lines")
        };
        let state = state.lock().unwrap();
        assert!(state.finished && state.done == 10);
    }
}
