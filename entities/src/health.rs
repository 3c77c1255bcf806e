//! The directory's health as the municipality watches it: listings not confirmed for a while ("stale",
//! one rule for partners and admins), services at capacity, services without a place or without needs,
//! and organizations nobody can act for. Also the admin's organization search by name.

use std::sync::LazyLock;

use chrono::{Months, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::directory::{Capacity, Organization, RecordStatus, Role, ServiceStatus};
use crate::error::Result;
use crate::store::{Page, Store, organization_from_row};
use crate::tables::{location, organization, person, service, service_at_location, service_need};

/// The setting that says after how many months without confirmation a listing is stale.
pub const STALE_MONTHS_ENV: &str = "BROBYGGER_STALE_MONTHS";
pub const DEFAULT_STALE_MONTHS: u32 = 6;

static STALE_MONTHS: LazyLock<u32> =
    LazyLock::new(|| parse_stale_months(std::env::var(STALE_MONTHS_ENV).ok().as_deref()));

/// `BROBYGGER_STALE_MONTHS` as a number of months from 1 to 120; the default when unset or unusable.
pub fn parse_stale_months(value: Option<&str>) -> u32 {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => DEFAULT_STALE_MONTHS,
        Some(text) => match text.parse::<u32>() {
            Ok(months) if (1..=120).contains(&months) => months,
            _ => {
                tracing::warn!(
                    value = text,
                    "{STALE_MONTHS_ENV} must be a number of months from 1 to 120; using {DEFAULT_STALE_MONTHS}"
                );
                DEFAULT_STALE_MONTHS
            }
        },
    }
}

/// After how many months without confirmation a listing is stale (read once from the environment).
pub fn stale_months() -> u32 {
    *STALE_MONTHS
}

/// The oldest `assured_date` that is not stale on `today` after `months`.
pub fn cutoff_for(today: NaiveDate, months: u32) -> NaiveDate {
    today.checked_sub_months(Months::new(months)).unwrap_or(NaiveDate::MIN)
}

/// The oldest `assured_date` that is not stale today: a service confirmed before it, or never, is stale.
pub fn stale_cutoff() -> NaiveDate {
    cutoff_for(Utc::now().date_naive(), stale_months())
}

/// Is a listing confirmed last on `assured_date` (None: never) stale today?
pub fn is_stale(assured_date: Option<NaiveDate>) -> bool {
    assured_date.is_none_or(|date| date < stale_cutoff())
}

/// A service with a problem, as the health page lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceProblem {
    pub id: Uuid,
    pub name: String,
    pub organization_id: Uuid,
    pub assured_date: Option<NaiveDate>,
}

/// One kind of problem: how many there are, and the first of them (by name).
#[derive(Clone, Debug, PartialEq)]
pub struct Problems<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// The directory's health. Only listed services (active or temporarily closed, of active organizations)
/// and active organizations count.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectoryHealth {
    pub cutoff: NaiveDate,
    pub stale: Problems<ServiceProblem>,
    pub full: Problems<ServiceProblem>,
    pub without_location: Problems<ServiceProblem>,
    pub without_needs: Problems<ServiceProblem>,
    /// Active organizations without an enabled partner person: (id, name).
    pub without_partner: Problems<(Uuid, String)>,
}

fn listed_services() -> sea_orm::Select<service::Entity> {
    let active_organizations = Query::select()
        .column(organization::Column::Id)
        .from(organization::Entity)
        .and_where(Expr::col(organization::Column::Status).eq(RecordStatus::Active.as_str()))
        .to_owned();
    service::Entity::find()
        .filter(service::Column::Status.is_in([
            ServiceStatus::Active.as_str(),
            ServiceStatus::TemporarilyClosed.as_str(),
        ]))
        .filter(service::Column::OrganizationId.in_subquery(active_organizations))
}

/// The listed services not confirmed since `cutoff` (or never): the one rule of "stale" for the health page,
/// the partner's listings and the monthly reminder mail.
pub(crate) fn stale_services(cutoff: NaiveDate) -> sea_orm::Select<service::Entity> {
    listed_services().filter(
        Condition::any()
            .add(service::Column::AssuredDate.is_null())
            .add(service::Column::AssuredDate.lt(cutoff)),
    )
}

impl Store {
    async fn service_problems(
        &self,
        query: sea_orm::Select<service::Entity>,
        limit: u64,
    ) -> Result<Problems<ServiceProblem>> {
        let total = query.clone().count(self.connection()).await?;
        let items = query
            .order_by_asc(service::Column::Name)
            .order_by_asc(service::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|row| ServiceProblem {
                id: row.id,
                name: row.name,
                organization_id: row.organization_id,
                assured_date: row.assured_date,
            })
            .collect();
        Ok(Problems { total, items })
    }

    /// The directory's health today, each kind of problem with its count and at most `limit` examples.
    pub async fn directory_health(&self, limit: u64) -> Result<DirectoryHealth> {
        let cutoff = stale_cutoff();
        let stale = stale_services(cutoff);
        let full = listed_services().filter(service::Column::Capacity.eq(Capacity::Full.as_str()));
        let placed = Query::select()
            .column(service_at_location::Column::ServiceId)
            .from(service_at_location::Entity)
            .and_where(
                Expr::col(service_at_location::Column::LocationId).in_subquery(
                    Query::select()
                        .column(location::Column::Id)
                        .from(location::Entity)
                        .and_where(Expr::col(location::Column::Status).eq(RecordStatus::Active.as_str()))
                        .to_owned(),
                ),
            )
            .to_owned();
        let without_location = listed_services().filter(service::Column::Id.not_in_subquery(placed));
        let with_needs = Query::select()
            .column(service_need::Column::ServiceId)
            .from(service_need::Entity)
            .to_owned();
        let without_needs = listed_services().filter(service::Column::Id.not_in_subquery(with_needs));
        let partnered = Query::select()
            .column(person::Column::OrganizationId)
            .from(person::Entity)
            .and_where(Expr::col(person::Column::Role).eq(Role::Partner.as_str()))
            .and_where(Expr::col(person::Column::DisabledAt).is_null())
            .and_where(Expr::col(person::Column::OrganizationId).is_not_null())
            .to_owned();
        let orphans = organization::Entity::find()
            .filter(organization::Column::Status.eq(RecordStatus::Active.as_str()))
            .filter(organization::Column::Id.not_in_subquery(partnered));
        let orphan_total = orphans.clone().count(self.connection()).await?;
        let orphan_items = orphans
            .order_by_asc(organization::Column::Name)
            .order_by_asc(organization::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|row| (row.id, row.name))
            .collect();
        Ok(DirectoryHealth {
            cutoff,
            stale: self.service_problems(stale, limit).await?,
            full: self.service_problems(full, limit).await?,
            without_location: self.service_problems(without_location, limit).await?,
            without_needs: self.service_problems(without_needs, limit).await?,
            without_partner: Problems {
                total: orphan_total,
                items: orphan_items,
            },
        })
    }

    /// Organizations whose name contains `name` (any case; None: all), in `status` (None: any), by name.
    pub async fn organizations_named(
        &self,
        name: Option<&str>,
        status: Option<RecordStatus>,
        page: Page,
    ) -> Result<(u64, Vec<Organization>)> {
        let mut query = organization::Entity::find();
        if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
            let escaped = name
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            query = query.filter(
                Expr::expr(Func::lower(Expr::col(organization::Column::Name)))
                    .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
            );
        }
        if let Some(status) = status {
            query = query.filter(organization::Column::Status.eq(status.as_str()));
        }
        let (total, rows) = page
            .fetch(
                self.connection(),
                query
                    .order_by_asc(organization::Column::Name)
                    .order_by_asc(organization::Column::Id),
            )
            .await?;
        Ok((
            total,
            rows.into_iter().map(organization_from_row).collect::<Result<_>>()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_months_come_from_the_setting_or_default_to_six() {
        assert_eq!(parse_stale_months(None), 6);
        assert_eq!(parse_stale_months(Some("")), 6);
        assert_eq!(parse_stale_months(Some(" 3 ")), 3);
        assert_eq!(parse_stale_months(Some("0")), 6);
        assert_eq!(parse_stale_months(Some("six")), 6);
    }

    #[test]
    fn the_cutoff_is_whole_months_back() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(cutoff_for(day("2026-12-01"), 6), day("2026-06-01"));
        assert_eq!(cutoff_for(day("2026-08-31"), 6), day("2026-02-28"));
        assert!(!is_stale(Some(Utc::now().date_naive())));
        assert!(is_stale(None));
        assert!(is_stale(Some(day("2000-01-01"))));
    }
}
