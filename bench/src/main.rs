//! `cargo run --release -p bench -- [--sizes 10000,100000,1000000] [--skip-postgres] [--queries N]`
//!
//! For each size: generates services in-process (fixed seed), times the full index build into a temp
//! directory on disk (mmap, as `brobygger serve` runs it), runs a fixed query mix in-process and reports
//! latency percentiles per class and peak RSS; then loads the same services into PostgreSQL (a fresh
//! schema) and runs the same queries there. Relevance over the seed data is measured first.
//! See bench/README.md.

mod pg;
mod queries;
mod relevance;
mod stats;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use entities::taxonomy::Taxonomy;
use indexer::gazetteer::Gazetteer;
use indexer::{SearchIndex, ServiceDoc};

use crate::queries::{BenchQuery, Class};
use crate::stats::{Summary, summarize};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Results per query: the API's default page size.
const LIMIT: usize = 20;

struct Options {
    sizes: Vec<u64>,
    skip_postgres: bool,
    skip_relevance: bool,
    /// Which judged queries the relevance part runs.
    relevance: Split,
    /// Print a row per judged query.
    relevance_per_query: bool,
    /// Print the top 10 of these (tuned) queries, with their grades.
    explain: Vec<String>,
    /// Print the top 10 of this text (near `try_near`) over the seed directory, and stop.
    try_text: Option<String>,
    try_near: Option<String>,
    keep_postgres: bool,
    queries: usize,
    rounds: usize,
    seed: u64,
    database_url: String,
    work_dir: PathBuf,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--sizes 10000,100000,1000000] [--queries N (250)] [--rounds R (3)] [--seed S (42)]\n\
         \x20            [--skip-postgres] [--skip-relevance] [--keep-postgres (keep schema bench_<size>)] [--database-url URL ({DEFAULT_URL}, env BENCH_DATABASE_URL)]\n\
         \x20            [--work-dir DIR (/var/tmp)] [--relevance all|tuned|held-out] [--per-query]\n\
         \x20            [--try TEXT [--near PLACE]] (print the top 10 of TEXT over the seed and stop)\n\
         \x20            --sizes none runs the relevance part alone"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut o = Options {
        sizes: vec![10_000, 100_000],
        skip_postgres: false,
        skip_relevance: false,
        relevance: Split::All,
        relevance_per_query: false,
        explain: Vec::new(),
        try_text: None,
        try_near: None,
        keep_postgres: false,
        queries: 250,
        rounds: 3,
        seed: 42,
        database_url: std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned()),
        work_dir: PathBuf::from("/var/tmp"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--sizes" => {
                let sizes = value();
                o.sizes = sizes
                    .split(',')
                    .filter(|s| *s != "none")
                    .map(|s| s.trim().replace('_', "").parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--queries" => o.queries = value().parse().unwrap_or_else(|_| usage()),
            "--rounds" => o.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => o.seed = value().parse().unwrap_or_else(|_| usage()),
            "--database-url" => o.database_url = value(),
            "--work-dir" => o.work_dir = PathBuf::from(value()),
            "--skip-postgres" => o.skip_postgres = true,
            "--skip-relevance" => o.skip_relevance = true,
            "--relevance" => {
                o.relevance = match value().as_str() {
                    "all" => Split::All,
                    "tuned" => Split::Tuned,
                    "held-out" => Split::HeldOut,
                    _ => usage(),
                }
            }
            "--per-query" => o.relevance_per_query = true,
            "--explain" => o.explain = value().split(',').map(str::to_owned).collect(),
            "--try" => o.try_text = Some(value()),
            "--near" => o.try_near = Some(value()),
            "--keep-postgres" => o.keep_postgres = true,
            _ => usage(),
        }
    }
    if o.queries < Class::ALL.len() || o.rounds == 0 {
        usage()
    }
    o
}

/// Reads a kB field (VmRSS, VmHWM) of /proc/self/status, in MiB.
fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets VmHWM (peak RSS) to the current RSS, so each phase reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn need_codes(taxonomy: &Taxonomy) -> HashSet<String> {
    taxonomy.flatten().into_iter().map(|(t, _)| t.code.clone()).collect()
}

/// Search documents from a generated NDJSON file, one organization per line, streamed.
fn docs_from_file(path: &Path, codes: HashSet<String>) -> anyhow::Result<impl Iterator<Item = ServiceDoc>> {
    let lines = BufReader::with_capacity(1 << 20, File::open(path)?).lines();
    Ok(lines.flat_map(move |line| {
        let line = line.expect("reading the generated file");
        let value: serde_json::Value = serde_json::from_str(&line).expect("generated NDJSON is JSON");
        let batch = entities::hsds::parse(&value, &codes).expect("generated documents are valid HSDS");
        api::indexing::documents_from_batch(&batch)
    }))
}

fn seed_docs(codes: &HashSet<String>) -> anyhow::Result<Vec<ServiceDoc>> {
    let value: serde_json::Value = serde_json::from_str(api::DEMO_DIRECTORY_JSON)?;
    let batch = entities::hsds::parse(&value, codes).map_err(|e| anyhow::anyhow!("seed directory: {e:?}"))?;
    Ok(api::indexing::documents_from_batch(&batch))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[derive(Default)]
struct ClassRun {
    samples: Vec<Duration>,
    totals: Vec<u64>,
}

fn mean(v: &[u64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<u64>() as f64 / v.len() as f64
    }
}

fn run_ours(index: &SearchIndex, queries: &[BenchQuery], rounds: usize) -> anyhow::Result<BTreeMap<Class, ClassRun>> {
    // warm-up: one pass, not timed
    for q in queries {
        index.search(&q.to_search(LIMIT))?;
    }
    let mut runs: BTreeMap<Class, ClassRun> = BTreeMap::new();
    for round in 0..rounds {
        for q in queries {
            let search = q.to_search(LIMIT);
            let started = Instant::now();
            let results = index.search(&search)?;
            let elapsed = started.elapsed();
            let run = runs.entry(q.class).or_default();
            run.samples.push(elapsed);
            if round == 0 {
                run.totals.push(results.total as u64);
            }
        }
    }
    Ok(runs)
}

async fn run_pg(
    baseline: &pg::Baseline,
    queries: &[BenchQuery],
    rounds: usize,
) -> anyhow::Result<BTreeMap<Class, ClassRun>> {
    for q in queries {
        baseline.search(q, LIMIT).await?;
    }
    let mut runs: BTreeMap<Class, ClassRun> = BTreeMap::new();
    for round in 0..rounds {
        for q in queries {
            let started = Instant::now();
            let (_, total) = baseline.search(q, LIMIT).await?;
            let elapsed = started.elapsed();
            let run = runs.entry(q.class).or_default();
            run.samples.push(elapsed);
            if round == 0 {
                run.totals.push(total as u64);
            }
        }
    }
    Ok(runs)
}

async fn bench_size(
    o: &Options,
    size: u64,
    taxonomy: &Taxonomy,
    gazetteer: &Gazetteer,
    queries: &[BenchQuery],
) -> anyhow::Result<()> {
    let codes = need_codes(taxonomy);
    let dir = tempfile::Builder::new()
        .prefix("brobygger-bench-")
        .tempdir_in(&o.work_dir)?;
    let data = dir.path().join("services.ndjson");

    eprintln!("[{size}] generating {size} services (seed {}) …", o.seed);
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&data)?);
    api::generate::generate(size, o.seed, taxonomy, gazetteer.places(), &mut out, |_| {})?;
    drop(out);
    let generated = started.elapsed();
    let bytes = std::fs::metadata(&data)?.len();

    // parse alone (also brings the file into the page cache, so the build below is not timing the disk)
    let started = Instant::now();
    let active = docs_from_file(&data, codes.clone())?.count();
    let parsed = started.elapsed();

    reset_peak_rss();
    let rss_before = proc_status_mib("VmRSS:").unwrap_or(0.0);
    eprintln!("[{size}] building the index on disk ({active} active services) …");
    let index_dir = dir.path().join("index");
    let index = SearchIndex::open(
        &index_dir,
        api::indexing::need_terms(taxonomy),
        &api::state::search_vocabulary(),
    )?;
    let started = Instant::now();
    index.rebuild(docs_from_file(&data, codes.clone())?, 0, |_| {})?;
    let built = started.elapsed();
    let index_bytes: u64 = std::fs::read_dir(&index_dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let segments = index.tantivy_index().searchable_segment_ids()?.len();
    let rss_after_build = proc_status_mib("VmRSS:").unwrap_or(0.0);
    let peak_build = proc_status_mib("VmHWM:").unwrap_or(0.0);

    eprintln!("[{size}] {} queries × {} rounds in-process …", queries.len(), o.rounds);
    reset_peak_rss();
    let ours = run_ours(&index, queries, o.rounds)?;
    let peak_search = proc_status_mib("VmHWM:").unwrap_or(0.0);
    drop(index);

    let mut theirs = None;
    let mut pg_load = None;
    if !o.skip_postgres {
        eprintln!("[{size}] loading PostgreSQL (COPY, then GIN/GiST indexes) …");
        let baseline = pg::Baseline::fresh(&o.database_url, &format!("bench_{size}")).await?;
        let times = baseline.load(docs_from_file(&data, codes.clone())?).await?;
        eprintln!(
            "[{size}] {} queries × {} rounds on PostgreSQL …",
            queries.len(),
            o.rounds
        );
        theirs = Some(run_pg(&baseline, queries, o.rounds).await?);
        pg_load = Some(times);
        if !o.keep_postgres {
            baseline.drop_schema().await?;
        }
    }

    println!("\n### {size} services ({active} active after the generator's ~3 % inactive)\n");
    println!("| step | result |\n|---|---|");
    println!(
        "| generate NDJSON ({:.0} MB) | {} |",
        bytes as f64 / 1e6,
        secs(generated)
    );
    println!("| parse HSDS → documents only | {} |", secs(parsed));
    println!(
        "| **index build** (parse + index + commit, on disk) | **{}** ({:.0} docs/s; index {:.0} MB in {segments} segments) |",
        secs(built),
        active as f64 / built.as_secs_f64(),
        index_bytes as f64 / 1e6
    );
    println!(
        "| RSS before build → after build; peak during build | {rss_before:.0} → {rss_after_build:.0} MiB; {peak_build:.0} MiB |"
    );
    println!("| **peak RSS during the query runs** | **{peak_search:.0} MiB** |");
    if let Some(t) = &pg_load {
        println!(
            "| PostgreSQL: COPY (tsvector generated) + indexes/ANALYZE | {} + {} = {} |",
            secs(t.copy),
            secs(t.indexes),
            secs(t.copy + t.indexes)
        );
    }
    println!();
    println!(
        "| class | queries | ours p50 | p95 | p99 | q/s (1 thread) | mean hits | PG p50 | PG p95 | PG p99 | PG q/s | PG mean hits | ours/PG (mean) | speed-up p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut all_ours = Vec::new();
    let mut all_theirs = Vec::new();
    for class in Class::ALL {
        let Some(run) = ours.get(&class) else { continue };
        all_ours.extend_from_slice(&run.samples);
        let s = summarize(&run.samples);
        let mut row = format!(
            "| {} | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.0} | {:.0}",
            class.name(),
            run.totals.len(),
            s.p50_ms,
            s.p95_ms,
            s.p99_ms,
            s.qps,
            mean(&run.totals)
        );
        match theirs.as_ref().and_then(|t| t.get(&class)) {
            Some(pg_run) => {
                all_theirs.extend_from_slice(&pg_run.samples);
                let p: Summary = summarize(&pg_run.samples);
                row.push_str(&format!(
                    " | {:.3} ms | {:.3} ms | {:.3} ms | {:.0} | {:.0} | {:.3} | {:.1}× |",
                    p.p50_ms,
                    p.p95_ms,
                    p.p99_ms,
                    p.qps,
                    mean(&pg_run.totals),
                    s.mean_ms / p.mean_ms,
                    p.p50_ms / s.p50_ms
                ));
            }
            None => row.push_str(" | – | – | – | – | – | – | – |"),
        }
        println!("{row}");
    }
    let s = summarize(&all_ours);
    let mut row = format!(
        "| **all** | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.0} | ",
        all_ours.len() / o.rounds,
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        s.qps
    );
    if all_theirs.is_empty() {
        row.push_str("| – | – | – | – | – | – | – |");
    } else {
        let p = summarize(&all_theirs);
        row.push_str(&format!(
            "| {:.3} ms | {:.3} ms | {:.3} ms | {:.0} | | {:.3} | {:.1}× |",
            p.p50_ms,
            p.p95_ms,
            p.p99_ms,
            p.qps,
            s.mean_ms / p.mean_ms,
            p.p50_ms / s.p50_ms
        ));
    }
    println!("{row}");
    let _ = std::io::stdout().flush();
    Ok(())
}

/// Which judged queries to run: all, or only the tuned or the held-out part.
#[derive(Clone, Copy, PartialEq)]
enum Split {
    All,
    Tuned,
    HeldOut,
}

/// nDCG@10 and recall@5 sums over a group of queries, ours and the baseline's.
#[derive(Default)]
struct Scores {
    count: usize,
    ours: (f64, f64),
    pg: (f64, f64),
}

impl Scores {
    fn add(&mut self, ours: (f64, f64), pg: Option<(f64, f64)>) {
        self.count += 1;
        self.ours.0 += ours.0;
        self.ours.1 += ours.1;
        if let Some(pg) = pg {
            self.pg.0 += pg.0;
            self.pg.1 += pg.1;
        }
    }

    fn row(&self, label: &str, with_pg: bool) -> String {
        let n = self.count.max(1) as f64;
        let pg = |v: f64| if with_pg { format!("{:.3}", v / n) } else { "–".into() };
        format!(
            "| {label} | {} | {:.3} | {} | {:.3} | {} |",
            self.count,
            self.ours.0 / n,
            pg(self.pg.0),
            self.ours.1 / n,
            pg(self.pg.1)
        )
    }
}

async fn bench_relevance(o: &Options, taxonomy: &Taxonomy, gazetteer: &Gazetteer) -> anyhow::Result<()> {
    let set = relevance::load()?;
    let codes = need_codes(taxonomy);
    let docs = seed_docs(&codes)?;
    let index = SearchIndex::in_memory(api::indexing::need_terms(taxonomy), &api::state::search_vocabulary())?;
    index.rebuild(docs.clone().into_iter(), 0, |_| {})?;
    let names: std::collections::HashMap<uuid::Uuid, String> = docs.iter().map(|d| (d.id, d.name.clone())).collect();
    if let Some(text) = &o.try_text {
        let point = match &o.try_near {
            Some(near) => {
                let place = gazetteer
                    .resolve(near)
                    .with_context(|| format!("unknown place {near}"))?;
                Some((place.latitude, place.longitude))
            }
            None => None,
        };
        let results = index.search(&indexer::SearchQuery {
            text: Some(text.clone()),
            point,
            radius_km: point.map(|_| 5.0),
            limit: 10,
            ..Default::default()
        })?;
        println!("`{text}` ({} found)", results.total);
        for hit in &results.hits {
            println!(
                "  {:6.3} {:>8} {} {:?} {:?}",
                hit.score,
                hit.distance_km.map(|d| format!("{d:.2}km")).unwrap_or_default(),
                names.get(&hit.id).map_or("?", String::as_str),
                hit.why.matched_terms,
                hit.why.needs
            );
        }
        return Ok(());
    }
    let baseline = if o.skip_postgres {
        None
    } else {
        let b = pg::Baseline::fresh(&o.database_url, "bench_relevance").await?;
        b.load(docs.into_iter()).await?;
        Some(b)
    };
    let queries: Vec<&relevance::JudgedQuery> = set
        .queries
        .iter()
        .filter(|q| match o.relevance {
            Split::All => true,
            Split::Tuned => !q.held_out,
            Split::HeldOut => q.held_out,
        })
        .collect();
    println!(
        "\n### Relevance over the Aarhus seed directory ({} of {} judged queries)\n",
        queries.len(),
        set.queries.len()
    );
    if o.relevance_per_query {
        println!(
            "| query | class | held out | ours nDCG@10 | PG nDCG@10 | ours recall@5 | PG recall@5 |\n|---|---|---|---|---|---|---|"
        );
    }
    let mut groups: BTreeMap<(String, bool), Scores> = BTreeMap::new();
    let mut overall: BTreeMap<bool, Scores> = BTreeMap::new();
    for q in queries {
        let point = match &q.near {
            Some(near) => {
                let place = gazetteer
                    .resolve(near)
                    .with_context(|| format!("{}: unknown place {near}", q.id))?;
                Some((place.latitude, place.longitude))
            }
            None => None,
        };
        let text = q.text.trim();
        let search = indexer::SearchQuery {
            text: (!text.is_empty()).then(|| text.to_owned()),
            point,
            radius_km: point.map(|_| q.radius_km.unwrap_or(5.0)),
            needs: q.needs.clone(),
            age: q.age,
            language: q.language.clone(),
            limit: 10,
            ..Default::default()
        };
        let results = index.search(&search)?;
        let ranked: Vec<String> = results.hits.iter().map(|h| h.id.to_string()).collect();
        if o.explain.contains(&q.id) {
            anyhow::ensure!(!q.held_out, "{} is held out: not to be looked at while tuning", q.id);
            println!("\n{} `{}` ({} found)", q.id, q.text, results.total);
            for hit in &results.hits {
                let name = names.get(&hit.id).map_or("?", String::as_str);
                let grade = q.judgments.get(&hit.id.to_string()).copied().unwrap_or(0);
                println!(
                    "  {grade} {:6.2} {:>6} {name} {:?} {:?}",
                    hit.score,
                    hit.distance_km.map(|d| format!("{d:.2}km")).unwrap_or_default(),
                    hit.why.matched_terms,
                    hit.why.needs
                );
            }
            let missed: Vec<&str> = q
                .judgments
                .iter()
                .filter(|(id, g)| **g == 3 && !ranked.contains(id))
                .filter_map(|(id, _)| names.get(&id.parse().ok()?).map(String::as_str))
                .collect();
            println!("  missed 3s: {missed:?}");
        }
        let ours = (
            stats::ndcg_at(&ranked, &q.judgments, 10),
            stats::recall_at(&ranked, &q.judgments, 5, 2),
        );
        let pg = match &baseline {
            Some(b) => {
                let pg_ranked = b.search_judged(q, point, 10).await?;
                Some((
                    stats::ndcg_at(&pg_ranked, &q.judgments, 10),
                    stats::recall_at(&pg_ranked, &q.judgments, 5, 2),
                ))
            }
            None => None,
        };
        groups.entry((q.class.clone(), q.held_out)).or_default().add(ours, pg);
        overall.entry(q.held_out).or_default().add(ours, pg);
        if o.relevance_per_query {
            let pg_cell = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.3}"));
            println!(
                "| {} `{}`{} | {} | {} | {:.3} | {} | {:.3} | {} |",
                q.id,
                q.text,
                q.near.as_ref().map(|p| format!(" near {p}")).unwrap_or_default(),
                q.class,
                if q.held_out { "yes" } else { "" },
                ours.0,
                pg_cell(pg.map(|p| p.0)),
                ours.1,
                pg_cell(pg.map(|p| p.1)),
            );
        }
    }
    let with_pg = baseline.is_some();
    println!(
        "\n| class (part) | queries | ours nDCG@10 | PG nDCG@10 | ours recall@5 | PG recall@5 |\n|---|---|---|---|---|---|"
    );
    for ((class, held_out), scores) in &groups {
        let part = if *held_out { "held out" } else { "tuned" };
        println!("{}", scores.row(&format!("{class} ({part})"), with_pg));
    }
    for (held_out, scores) in &overall {
        let part = if *held_out { "held out" } else { "tuned" };
        println!("{}", scores.row(&format!("**all ({part})**"), with_pg));
    }
    if let Some(b) = baseline {
        b.drop_schema().await?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct DetectCases {
    cases: Vec<DetectCase>,
}

#[derive(serde::Deserialize)]
struct DetectCase {
    text: String,
    language: Option<String>,
    expected: Vec<String>,
}

/// Need detection over the phrases of `api/tests/detect-cases.json`: precision and recall of the needs found,
/// and the time per text.
fn bench_detection(rounds: usize) -> anyhow::Result<()> {
    let cases: DetectCases = serde_json::from_str(include_str!("../../api/tests/detect-cases.json"))?;
    let detector = api::state::need_detector();
    let (mut found_total, mut expected_total, mut right, mut first_right) = (0usize, 0usize, 0usize, 0usize);
    for case in &cases.cases {
        let language = case.language.as_deref().and_then(indexer::Lang::from_code);
        let found: Vec<String> = detector
            .detect(&case.text, language)
            .into_iter()
            .map(|d| d.code)
            .collect();
        found_total += found.len();
        expected_total += case.expected.len();
        right += found.iter().filter(|c| case.expected.contains(c)).count();
        if found.first() == case.expected.first() {
            first_right += 1;
        }
    }
    let mut samples = Vec::with_capacity(cases.cases.len() * rounds);
    for _ in 0..rounds {
        for case in &cases.cases {
            let language = case.language.as_deref().and_then(indexer::Lang::from_code);
            let started = Instant::now();
            std::hint::black_box(detector.detect(std::hint::black_box(&case.text), language));
            samples.push(started.elapsed().as_nanos() as f64 / 1000.0);
        }
    }
    samples.sort_by(f64::total_cmp);
    let mean_micros = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    println!(
        "\n### Need detection ({} phrases, {} with no need)\n\n| precision | recall | first need right | mean µs | p50 µs | p99 µs |\n|---|---|---|---|---|---|\n| {:.3} | {:.3} | {}/{} | {:.1} | {:.1} | {:.1} |",
        cases.cases.len(),
        cases.cases.iter().filter(|c| c.expected.is_empty()).count(),
        right as f64 / found_total.max(1) as f64,
        right as f64 / expected_total.max(1) as f64,
        first_right,
        cases.cases.len(),
        mean_micros,
        stats::percentile(&samples, 50.0),
        stats::percentile(&samples, 99.0),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options();
    let taxonomy = Taxonomy::builtin();
    let gazetteer = Gazetteer::from_json(api::state::PLACES_JSON)?;
    let queries = queries::build(&taxonomy, gazetteer.places(), o.queries, o.seed);
    println!(
        "# Brobygger benchmark\n\nsizes {:?}, {} queries × {} rounds (after one warm-up pass), limit {LIMIT}, seed {}, PostgreSQL: {}",
        o.sizes,
        queries.len(),
        o.rounds,
        o.seed,
        if o.skip_postgres {
            "skipped".to_owned()
        } else {
            o.database_url.clone()
        }
    );
    println!("\nPostgreSQL query shapes:");
    for class in Class::ALL {
        println!("- {}: {}", class.name(), pg::sql_shape(class));
    }
    if !o.skip_relevance {
        if o.try_text.is_none() {
            bench_detection(200)?;
        }
        bench_relevance(&o, &taxonomy, &gazetteer).await?;
    }
    for size in &o.sizes {
        bench_size(&o, *size, &taxonomy, &gazetteer, &queries).await?;
    }
    Ok(())
}
