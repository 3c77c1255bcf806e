//! Prometheus text exposition (format 0.0.4) of request latencies and a few gauges. A histogram and some
//! gauges do not justify a metrics framework; the format is stable and tiny.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::state::AppState;

/// Upper bounds of the latency buckets, in seconds (`+Inf` is implied).
pub const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const DURATION: &str = "brobygger_http_request_duration_seconds";

#[derive(Default)]
pub struct Metrics {
    /// By route label and status class.
    requests: Mutex<BTreeMap<(String, &'static str), Histogram>>,
}

/// One latency histogram; `buckets[i]` counts the observations in bucket `i` alone (made cumulative when
/// rendered), so an observation touches one slot.
#[derive(Default, Clone, Copy)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    seconds: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(slot) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[slot] += 1;
        }
        self.count += 1;
        self.seconds += seconds;
    }
}

/// `2xx` for 200..=299 and so on; `other` for anything outside 100..=599.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// A gauge and its samples, each with its labels.
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Gauge {
    /// A gauge without labels.
    pub fn single(name: &'static str, help: &'static str, value: f64) -> Self {
        Gauge {
            name,
            help,
            samples: vec![(Vec::new(), value)],
        }
    }

    /// A gauge with one label.
    pub fn labelled(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        values: impl IntoIterator<Item = (String, f64)>,
    ) -> Self {
        Gauge {
            name,
            help,
            samples: values.into_iter().map(|(v, value)| (vec![(label, v)], value)).collect(),
        }
    }
}

impl Metrics {
    /// Counts one answered request. `route` must be bounded (a path template such as `/v1/services/{id}`,
    /// or `unmatched`), never a raw path; `status` is reduced to its class.
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests
            .entry((route.to_owned(), status_class(status)))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition: the latency histogram, then `gauges`.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {DURATION} Time to answer HTTP requests, by route template and status class.\n# TYPE {DURATION} histogram"
        );
        for ((route, class), histogram) in &requests {
            let labels = format!("route=\"{}\",status=\"{class}\"", escape_label(route));
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "{DURATION}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                    number(*bound)
                );
            }
            let _ = writeln!(out, "{DURATION}_bucket{{{labels},le=\"+Inf\"}} {}", histogram.count);
            let _ = writeln!(out, "{DURATION}_sum{{{labels}}} {}", number(histogram.seconds));
            let _ = writeln!(out, "{DURATION}_count{{{labels}}} {}", histogram.count);
        }
        for gauge in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge",
                name = gauge.name,
                help = escape_help(gauge.help)
            );
            for (labels, value) in &gauge.samples {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(name, value)| format!("{name}=\"{}\"", escape_label(value)))
                    .collect();
                let labels = if labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", labels.join(","))
                };
                let _ = writeln!(out, "{}{labels} {}", gauge.name, number(*value));
            }
        }
        out
    }
}

/// The text format's number spelling: Rust's shortest round-trip decimal, and `+Inf`, `-Inf`, `NaN`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{value}")
    }
}

/// A label value as the text format quotes it: backslash, double quote and line feed escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed escaped.
fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The whole `/metrics` page: request latencies, uptime, the search index (documents, applied change-log seq,
/// lag behind the database), referrals per status and the mail outbox's backlog, read from the database now. A failing database query
/// leaves its gauges out (and logs why) rather than failing the scrape.
pub async fn scrape(state: &AppState) -> String {
    let applied = state.search.index.applied_seq().unwrap_or(0);
    let mut gauges = vec![
        Gauge::single(
            "brobygger_uptime_seconds",
            "Seconds since start.",
            state.started.elapsed().as_secs_f64(),
        ),
        Gauge::single(
            "brobygger_search_documents",
            "Active services in the search index.",
            state.search.index.num_docs() as f64,
        ),
        Gauge::single(
            "brobygger_search_applied_seq",
            "Last change-log sequence applied to the search index.",
            applied as f64,
        ),
    ];
    match state.store.latest_seq().await {
        Ok(latest) => gauges.push(Gauge::single(
            "brobygger_search_lag",
            "Change-log entries the search index has yet to apply (latest sequence minus applied).",
            latest.saturating_sub(applied).max(0) as f64,
        )),
        Err(error) => tracing::warn!(%error, "metrics: reading the latest change-log sequence failed"),
    }
    match state.store.referral_counts_by_status().await {
        Ok(counts) => gauges.push(Gauge::labelled(
            "brobygger_referrals",
            "Referrals by current status.",
            "status",
            counts
                .into_iter()
                .map(|(status, count)| (status.as_str().to_owned(), count as f64)),
        )),
        Err(error) => tracing::warn!(%error, "metrics: counting referrals failed"),
    }
    match state.store.webhook_delivery_counts().await {
        Ok(counts) => gauges.push(Gauge::labelled(
            "brobygger_webhook_deliveries",
            "Webhook deliveries by status: pending (the outbox), delivered, failed (retries used up).",
            "status",
            counts.into_iter().map(|(status, count)| (status, count as f64)),
        )),
        Err(error) => tracing::warn!(%error, "metrics: counting webhook deliveries failed"),
    }
    match state.store.outbox_backlog().await {
        Ok((unsent, given_up)) => gauges.push(Gauge::labelled(
            "brobygger_mail_outbox",
            "Notification mails not sent: waiting (due, retrying or in a digest to come) and given up after repeated failures.",
            "state",
            [("unsent".to_owned(), unsent as f64), ("given-up".to_owned(), given_up as f64)],
        )),
        Err(error) => tracing::warn!(%error, "metrics: counting the mail outbox failed"),
    }
    state.metrics.render(&gauges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn buckets_are_cumulative_with_sum_and_count() {
        let metrics = Metrics::default();
        for millis in [0, 3, 3, 40, 700, 20_000] {
            metrics.observe("/v1/services/{id}", 200, Duration::from_millis(millis));
        }
        metrics.observe("/v1/services/{id}", 204, Duration::from_millis(1));
        let text = metrics.render(&[]);
        assert!(
            text.contains("# TYPE brobygger_http_request_duration_seconds histogram\n"),
            "{text}"
        );
        let buckets = lines_of(
            &text,
            "brobygger_http_request_duration_seconds_bucket{route=\"/v1/services/{id}\",status=\"2xx\",",
        );
        let expected = [
            ("0.001", 2),
            ("0.0025", 2),
            ("0.005", 4),
            ("0.01", 4),
            ("0.025", 4),
            ("0.05", 5),
            ("0.1", 5),
            ("0.25", 5),
            ("0.5", 5),
            ("1", 6),
            ("2.5", 6),
            ("5", 6),
            ("10", 6),
            ("+Inf", 7),
        ];
        assert_eq!(buckets.len(), expected.len(), "{text}");
        for (line, (le, count)) in buckets.iter().zip(expected) {
            assert!(line.ends_with(&format!("le=\"{le}\"}} {count}")), "{line}");
        }
        assert!(
            text.contains(
                "brobygger_http_request_duration_seconds_count{route=\"/v1/services/{id}\",status=\"2xx\"} 7\n"
            ),
            "{text}"
        );
        let sum = lines_of(&text, "brobygger_http_request_duration_seconds_sum{")[0];
        let seconds: f64 = sum.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((seconds - 20.747).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn statuses_are_grouped_by_class() {
        let metrics = Metrics::default();
        metrics.observe("unmatched", 404, Duration::from_millis(2));
        metrics.observe("unmatched", 405, Duration::from_millis(2));
        metrics.observe("unmatched", 503, Duration::from_millis(2));
        metrics.observe("/login", 303, Duration::from_millis(2));
        let text = metrics.render(&[]);
        for (labels, count) in [
            ("route=\"unmatched\",status=\"4xx\"", 2),
            ("route=\"unmatched\",status=\"5xx\"", 1),
            ("route=\"/login\",status=\"3xx\"", 1),
        ] {
            assert!(
                text.contains(&format!(
                    "brobygger_http_request_duration_seconds_count{{{labels}}} {count}\n"
                )),
                "{text}"
            );
        }
        assert!(!text.contains("\"404\""), "{text}");
        assert_eq!(status_class(99), "other");
        assert_eq!(status_class(101), "1xx");
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::default();
        metrics.observe("/a\\b\"c\nd", 200, Duration::from_millis(1));
        let text = metrics.render(&[Gauge::labelled(
            "brobygger_test",
            "A test\\gauge\nwith two lines.",
            "status",
            [("on-\"hold\"".to_owned(), 2.0)],
        )]);
        assert!(
            text.contains("_count{route=\"/a\\\\b\\\"c\\nd\",status=\"2xx\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP brobygger_test A test\\\\gauge\\nwith two lines.\n"),
            "{text}"
        );
        assert!(
            text.contains("brobygger_test{status=\"on-\\\"hold\\\"\"} 2\n"),
            "{text}"
        );
        // every sample line is one line: no raw line feed inside a label
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("brobygger_"), "{line}");
        }
    }

    #[test]
    fn gauges_render_with_and_without_labels() {
        let text = Metrics::default().render(&[
            Gauge::single("brobygger_search_documents", "Documents.", 12.0),
            Gauge::labelled(
                "brobygger_referrals",
                "Referrals by current status.",
                "status",
                [("accepted".to_owned(), 3.0), ("requested".to_owned(), 0.0)],
            ),
            Gauge::single("brobygger_nothing", "Not a number.", f64::NAN),
        ]);
        assert!(
            text.contains("# HELP brobygger_search_documents Documents.\n# TYPE brobygger_search_documents gauge\nbrobygger_search_documents 12\n"),
            "{text}"
        );
        assert!(
            text.contains("\nbrobygger_referrals{status=\"accepted\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("\nbrobygger_referrals{status=\"requested\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("\nbrobygger_nothing NaN\n"), "{text}");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(0.0025), "0.0025");
    }
}
