//! Unmet needs: how often a search for a need near a place found nothing within its radius, counted per
//! need code, area (a postal code) and month. Only these four columns exist: no query text, no person, no
//! time finer than the month, so the municipality sees where offers are missing and nobody can tell who
//! searched.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::tables::unmet_need;

/// One aggregate row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmetNeed {
    pub need_code: String,
    pub area: String,
    /// `YYYY-MM`.
    pub month: String,
    pub count: u64,
}

/// The month of `at` as the table keeps it, `YYYY-MM`.
pub fn month_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

fn is_month(text: &str) -> bool {
    text.len() == 7
        && text.as_bytes()[4] == b'-'
        && text[..4].bytes().all(|b| b.is_ascii_digit())
        && text[5..].parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
}

impl Store {
    /// Adds one to the row of (`need_code`, `area`, `month`).
    pub async fn count_unmet_need(&self, need_code: &str, area: &str, month: &str) -> Result<()> {
        if need_code.is_empty() || need_code.len() > 100 || area.is_empty() || area.len() > 20 || !is_month(month) {
            return Err(Error::invalid(
                "unmet_need",
                "a need code, an area and a month (YYYY-MM)",
            ));
        }
        let row = unmet_need::ActiveModel {
            need_code: sea_orm::ActiveValue::Set(need_code.to_owned()),
            area: sea_orm::ActiveValue::Set(area.to_owned()),
            month: sea_orm::ActiveValue::Set(month.to_owned()),
            count: sea_orm::ActiveValue::Set(1),
        };
        let insert = unmet_need::Entity::insert(row).on_conflict(
            OnConflict::columns([
                unmet_need::Column::NeedCode,
                unmet_need::Column::Area,
                unmet_need::Column::Month,
            ])
            .value(
                unmet_need::Column::Count,
                Expr::col((unmet_need::Entity, unmet_need::Column::Count)).add(1),
            )
            .to_owned(),
        );
        self.write_unlogged(move |txn| Box::pin(async move { Ok(insert.exec(txn).await.map(drop)?) }))
            .await
    }

    /// The rows of the months `from..=to` (`YYYY-MM`, either open), most searched first.
    pub async fn unmet_needs(&self, from: Option<&str>, to: Option<&str>) -> Result<Vec<UnmetNeed>> {
        let mut query = unmet_need::Entity::find();
        if let Some(from) = from {
            query = query.filter(unmet_need::Column::Month.gte(from));
        }
        if let Some(to) = to {
            query = query.filter(unmet_need::Column::Month.lte(to));
        }
        Ok(query
            .order_by_desc(unmet_need::Column::Count)
            .order_by_asc(unmet_need::Column::Month)
            .order_by_asc(unmet_need::Column::NeedCode)
            .order_by_asc(unmet_need::Column::Area)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|row| UnmetNeed {
                need_code: row.need_code,
                area: row.area,
                month: row.month,
                count: u64::try_from(row.count).unwrap_or(0),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_year_dash_month() {
        assert!(is_month("2026-12"));
        assert!(!is_month("2026-13"));
        assert!(!is_month("2026-1"));
        assert!(!is_month("2026-12-01"));
        assert_eq!(month_of("2026-03-31T23:59:59Z".parse().unwrap()), "2026-03");
    }
}
