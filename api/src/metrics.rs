//! Prometheus text exposition of request counts and latencies. A handful of counters does not justify a
//! metrics framework; the format is stable and tiny.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), RequestStats>>,
}

#[derive(Default, Clone, Copy)]
struct RequestStats {
    count: u64,
    seconds: f64,
}

impl Metrics {
    /// `route` is the matched path template's first segments, never raw ids, to keep cardinality low.
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let stats = requests.entry((route.to_owned(), status)).or_default();
        stats.count += 1;
        stats.seconds += elapsed.as_secs_f64();
    }

    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out.push_str("# HELP brobygger_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE brobygger_http_requests_total counter\n");
        for ((route, status), stats) in &requests {
            let _ = writeln!(
                out,
                "brobygger_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {}",
                stats.count
            );
        }
        out.push_str("# HELP brobygger_http_request_seconds_sum Time spent answering requests.\n");
        out.push_str("# TYPE brobygger_http_request_seconds_sum counter\n");
        for ((route, status), stats) in &requests {
            let _ = writeln!(
                out,
                "brobygger_http_request_seconds_sum{{route=\"{route}\",status=\"{status}\"}} {:.6}",
                stats.seconds
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

/// Route label for a request path: the first two segments, with anything that looks like an id replaced.
pub fn route_label(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).take(3).collect();
    let labelled: Vec<&str> = segments
        .iter()
        .map(|s| {
            if s.len() >= 32 || s.chars().all(|c| c.is_ascii_digit()) {
                ":id"
            } else {
                s
            }
        })
        .collect();
    format!("/{}", labelled.join("/"))
}
