//! The PostgreSQL baseline: what a municipality would otherwise build (and what Ohana API does) —
//! a `danish` tsvector with a GIN index ranked by `ts_rank`, and earthdistance/cube GiST for the radius.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use indexer::ServiceDoc;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sea_orm::sqlx::{self, AssertSqlSafe, Row};

use crate::queries::{BenchQuery, Class};

pub struct Baseline {
    pool: PgPool,
    schema: String,
}

/// Times of one load.
pub struct LoadTimes {
    pub copy: Duration,
    pub indexes: Duration,
}

/// COPY text format: backslash, tab, newline and carriage return are escaped.
pub fn copy_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A need code and its ancestors as a PostgreSQL text[] literal ("a/b" also matches "a", like the index).
fn needs_array(needs: &[String]) -> String {
    let mut all: Vec<&str> = Vec::new();
    for code in needs {
        for (i, _) in code.match_indices('/') {
            all.push(&code[..i]);
        }
        all.push(code);
    }
    all.sort_unstable();
    all.dedup();
    let quoted: Vec<String> = all.iter().map(|c| format!("\"{c}\"")).collect();
    format!("{{{}}}", quoted.join(","))
}

impl Baseline {
    /// Connects and creates a fresh, empty schema `name` (dropping an earlier one).
    pub async fn fresh(url: &str, name: &str) -> anyhow::Result<Self> {
        // work_mem: the radius queries sort tens of thousands of locations; 4 MB (the default) spills to disk
        let options = PgConnectOptions::from_str(url)?.options([("work_mem", "16MB")]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS cube; CREATE EXTENSION IF NOT EXISTS earthdistance;")
            .execute(&pool)
            .await
            .context("the cube and earthdistance extensions (Debian: postgresql-contrib)")?;
        let schema = name.to_owned();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
             CREATE UNLOGGED TABLE {schema}.services (
                 id uuid PRIMARY KEY, name text NOT NULL, description text NOT NULL, organization text NOT NULL,
                 needs text[] NOT NULL, min_age int NOT NULL, max_age int NOT NULL, languages text[] NOT NULL,
                 free boolean NOT NULL,
                 tsv tsvector GENERATED ALWAYS AS (
                     setweight(to_tsvector('danish', name), 'A') ||
                     setweight(to_tsvector('danish', description), 'B') ||
                     setweight(to_tsvector('danish', organization), 'C')) STORED);
             CREATE UNLOGGED TABLE {schema}.locations (service_id uuid NOT NULL, lat float8 NOT NULL, lon float8 NOT NULL,
                 e earth GENERATED ALWAYS AS (ll_to_earth(lat, lon)) STORED);"
        )))
        .execute(&pool)
        .await?;
        Ok(Self { pool, schema })
    }

    /// COPYs the services and their locations, then builds the indexes and ANALYZEs.
    pub async fn load(&self, docs: impl Iterator<Item = ServiceDoc>) -> anyhow::Result<LoadTimes> {
        let s = &self.schema;
        let started = Instant::now();
        let mut services = self.pool.acquire().await?;
        let mut locations = self.pool.acquire().await?;
        let mut services_copy = services
            .copy_in_raw(&format!(
                "COPY {s}.services (id, name, description, organization, needs, min_age, max_age, languages, free) FROM STDIN"
            ))
            .await?;
        let mut locations_copy = locations
            .copy_in_raw(&format!("COPY {s}.locations (service_id, lat, lon) FROM STDIN"))
            .await?;
        let (mut sbuf, mut lbuf) = (String::new(), String::new());
        for doc in docs {
            sbuf.push_str(&doc.id.to_string());
            for text in [&doc.name, &doc.description, &doc.organization_name] {
                sbuf.push('\t');
                copy_escape(text, &mut sbuf);
            }
            let languages: Vec<String> = doc.languages.iter().map(|l| format!("\"{l}\"")).collect();
            sbuf.push_str(&format!(
                "\t{}\t{}\t{}\t{{{}}}\t{}\n",
                needs_array(&doc.needs),
                doc.minimum_age.unwrap_or(0),
                doc.maximum_age.unwrap_or(1000),
                languages.join(","),
                if doc.free { "t" } else { "f" }
            ));
            for l in &doc.locations {
                lbuf.push_str(&format!("{}\t{}\t{}\n", doc.id, l.latitude, l.longitude));
            }
            if sbuf.len() > 1 << 20 {
                services_copy.send(std::mem::take(&mut sbuf).into_bytes()).await?;
                locations_copy.send(std::mem::take(&mut lbuf).into_bytes()).await?;
            }
        }
        services_copy.send(sbuf.into_bytes()).await?;
        locations_copy.send(lbuf.into_bytes()).await?;
        services_copy.finish().await?;
        locations_copy.finish().await?;
        drop((services, locations));
        let copy = started.elapsed();
        let started = Instant::now();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET maintenance_work_mem = '256MB';
             CREATE INDEX ON {s}.services USING gin (tsv);
             CREATE INDEX ON {s}.services USING gin (needs);
             CREATE INDEX ON {s}.locations USING gist (e);
             CREATE INDEX ON {s}.locations (service_id);
             ANALYZE {s}.services; ANALYZE {s}.locations;"
        )))
        .execute(&self.pool)
        .await?;
        Ok(LoadTimes {
            copy,
            indexes: started.elapsed(),
        })
    }

    /// Runs one query; returns the ids of the first `limit` hits, best first, and the total.
    pub async fn search(&self, q: &BenchQuery, limit: usize) -> anyhow::Result<(Vec<String>, i64)> {
        let s = &self.schema;
        let limit = limit as i64;
        let near = "WITH near AS (
                SELECT l.service_id, min(earth_distance(l.e, ll_to_earth($1, $2))) AS d
                FROM {s}.locations l
                WHERE earth_box(ll_to_earth($1, $2), $3) @> l.e
                  AND earth_distance(l.e, ll_to_earth($1, $2)) < $3
                GROUP BY l.service_id)"
            .replace("{s}", s);
        let rows = match (&q.text, q.point) {
            (Some(text), None) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT s.id::text, count(*) OVER () FROM {s}.services s, plainto_tsquery('danish', $1) q
                     WHERE s.tsv @@ q ORDER BY ts_rank(s.tsv, q) DESC, s.id LIMIT $2"
                )))
                .bind(text)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            (Some(text), Some((lat, lon))) => {
                sqlx::query(AssertSqlSafe(format!(
                    "{near} SELECT s.id::text, count(*) OVER () FROM near JOIN {s}.services s ON s.id = near.service_id,
                         plainto_tsquery('danish', $4) q
                     WHERE s.tsv @@ q ORDER BY ts_rank(s.tsv, q) DESC, near.d LIMIT $5"
                )))
                .bind(lat)
                .bind(lon)
                .bind(q.radius_km.unwrap_or(5.0) * 1000.0)
                .bind(text)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            (None, Some((lat, lon))) => {
                let needs: Vec<String> = q.need.iter().cloned().collect();
                sqlx::query(AssertSqlSafe(format!(
                    "{near} SELECT s.id::text, count(*) OVER () FROM near JOIN {s}.services s ON s.id = near.service_id
                     WHERE (cardinality($4::text[]) = 0 OR s.needs && $4::text[])
                       AND ($5::int IS NULL OR (s.min_age <= $5 AND s.max_age >= $5))
                     ORDER BY near.d, s.id LIMIT $6"
                )))
                .bind(lat)
                .bind(lon)
                .bind(q.radius_km.unwrap_or(5.0) * 1000.0)
                .bind(needs)
                .bind(q.age.map(|a| a as i32))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            (None, None) => anyhow::bail!("a {} query needs text or a point", q.class.name()),
        };
        let total = rows.first().map(|r| r.get::<i64, _>(1)).unwrap_or(0);
        Ok((rows.iter().map(|r| r.get::<String, _>(0)).collect(), total))
    }

    /// A judged relevance query: text (may be empty) ranked by `ts_rank`, cut by radius, needs (any of; a need
    /// code matches its sub-terms, stored with their ancestors), age and language, as our engine filters.
    pub async fn search_judged(
        &self,
        q: &crate::relevance::JudgedQuery,
        point: Option<(f64, f64)>,
        limit: usize,
    ) -> anyhow::Result<Vec<String>> {
        let s = &self.schema;
        let (lat, lon) = point.unwrap_or((0.0, 0.0));
        let rows = sqlx::query(AssertSqlSafe(format!(
            "WITH near AS (
                SELECT l.service_id, min(earth_distance(l.e, ll_to_earth($1, $2))) AS d
                FROM {s}.locations l
                WHERE $3 AND earth_box(ll_to_earth($1, $2), $4) @> l.e
                  AND earth_distance(l.e, ll_to_earth($1, $2)) < $4
                GROUP BY l.service_id)
             SELECT s.id::text FROM {s}.services s LEFT JOIN near ON near.service_id = s.id,
                 plainto_tsquery('danish', $5) q
             WHERE ($5 = '' OR s.tsv @@ q)
               AND (NOT $3 OR near.service_id IS NOT NULL)
               AND (cardinality($6::text[]) = 0 OR s.needs && $6::text[])
               AND ($7::int IS NULL OR (s.min_age <= $7 AND s.max_age >= $7))
               AND ($8::text IS NULL OR $8 = ANY(s.languages))
             ORDER BY CASE WHEN $5 = '' THEN 0 ELSE ts_rank(s.tsv, q) END DESC, near.d, s.id LIMIT $9"
        )))
        .bind(lat)
        .bind(lon)
        .bind(point.is_some())
        .bind(q.radius_km.unwrap_or(5.0) * 1000.0)
        .bind(q.text.trim())
        .bind(q.needs.clone())
        .bind(q.age.map(|a| a as i32))
        .bind(q.language.clone())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    pub async fn drop_schema(&self) -> anyhow::Result<()> {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Which classes PostgreSQL answers with the same SQL shape (used only for the report).
pub fn sql_shape(class: Class) -> &'static str {
    match class {
        Class::Text | Class::Typo | Class::English => "plainto_tsquery('danish') @@ tsv, ts_rank",
        Class::TextRadius => "earth_box @> e (GiST on a stored ll_to_earth column) + earth_distance, tsv @@, ts_rank",
        Class::RadiusNeedAge => "earth_box @> e (GiST) + earth_distance, needs && (GIN), age, by distance",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_is_escaped_and_needs_expand_to_ancestors() {
        let mut out = String::new();
        copy_escape("a\tb\\c\nd", &mut out);
        assert_eq!(out, "a\\tb\\\\c\\nd");
        assert_eq!(
            needs_array(&["education-homework/homework-cafe".into(), "health".into()]),
            "{\"education-homework\",\"education-homework/homework-cafe\",\"health\"}"
        );
    }
}
