//! Webhooks: who may be told of which events, the fan-out of the two append-only logs (`change_log` for the
//! directory, `referral_event` for referrals) into one delivery per subscription and event, and the
//! claim/record cycle of the senders.
//!
//! The logs are written in the transaction of the change that caused them, so they are the outbox: an event
//! exists exactly when its change committed. Fan-out runs as a logged write (serialised with every writer,
//! under the change-log lock on PostgreSQL), reading the logs after a cursor and advancing the cursor in the
//! same transaction, so each event is fanned out once however many nodes run. Senders claim the oldest pending
//! delivery of each subscription with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so one node sends it
//! and a subscription's deliveries go out in order; a node that dies mid-send leaves the lease to expire and
//! another node (or the same one restarted) sends it again: at least once.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use crate::access::Actor;
use crate::directory::Role;
use crate::error::{Error, FieldError, Result};
use crate::store::{Page, Store, stored};
use crate::tables::{
    change_log, location, referral, referral_event, webhook_cursor, webhook_delivery, webhook_subscription,
};

/// Every event type a subscription may name; `<entity>.*` names all of one entity's.
pub const EVENT_TYPES: &[&str] = &[
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "location.created",
    "location.updated",
    "location.deleted",
    "service.created",
    "service.updated",
    "service.deleted",
    "referral.created",
    "referral.status_changed",
];

/// Deliveries made per fan-out round, at most; the rest wait for the next round.
const FAN_OUT_BATCH: u64 = 500;

fn is_referral_event(kind: &str) -> bool {
    kind.starts_with("referral.")
}

/// Whether the pattern `wanted` (`service.updated`, `service.*`) names the event type `kind`.
fn names(wanted: &str, kind: &str) -> bool {
    match wanted.strip_suffix(".*") {
        Some(entity) => kind.split_once('.').is_some_and(|(e, _)| e == entity),
        None => wanted == kind,
    }
}

#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub owner_id: Uuid,
    pub owner_role: Role,
    pub organization_id: Option<Uuid>,
}

/// The fields of a subscription a PATCH may change.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    /// Only `active`: clears `failing`.
    pub reactivate: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub owner_id: Uuid,
    pub owner_role: String,
    pub organization_id: Option<Uuid>,
    pub status: String,
    pub consecutive_failures: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The event patterns a stored subscription asked for.
fn stored_events(row: &webhook_subscription::Model) -> Result<Vec<String>> {
    stored(
        |text| serde_json::from_str(text).ok(),
        "webhook_subscription",
        row.id,
        "events",
        &row.events,
    )
}

impl From<webhook_subscription::Model> for Subscription {
    fn from(row: webhook_subscription::Model) -> Self {
        Self {
            id: row.id,
            url: row.url,
            events: serde_json::from_str(&row.events).unwrap_or_default(),
            description: row.description,
            owner_id: row.owner_id,
            owner_role: row.owner_role,
            organization_id: row.organization_id,
            status: row.status,
            consecutive_failures: row.consecutive_failures,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: Uuid,
    pub message_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<webhook_delivery::Model> for Delivery {
    fn from(row: webhook_delivery::Model) -> Self {
        Self {
            id: row.id,
            subscription_id: row.subscription_id,
            message_id: row.message_id,
            event_type: row.event_type,
            status: row.status,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_status: row.last_status,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        }
    }
}

/// A delivery a sender has claimed: what to send where, signed with which secret.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub subscription_id: Uuid,
    pub message_id: String,
    pub payload: String,
    pub url: String,
    pub secret: String,
    pub attempts: i32,
}

/// Checks a subscription's URL and events, and that `role` may receive them.
pub fn validate(url: &str, events: &[String], role: Role) -> Result<()> {
    let mut errors = Vec::new();
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let host_ok = url.split_once("://").is_some_and(|(_, rest)| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.contains('@')
    });
    if !scheme_ok || !host_ok || url.len() > 2000 || url.chars().any(char::is_whitespace) {
        errors.push(FieldError::new(
            "url",
            "must be an http:// or https:// URL with a host (no user info)",
        ));
    }
    if events.is_empty() {
        errors.push(FieldError::new("events", "name at least one event type"));
    }
    for (i, wanted) in events.iter().enumerate() {
        if !EVENT_TYPES.iter().any(|kind| names(wanted, kind)) {
            errors.push(FieldError::new(
                format!("events/{i}"),
                format!(
                    "unknown event type `{wanted}`; one of {} or `<entity>.*`",
                    EVENT_TYPES.join(", ")
                ),
            ));
        } else if wanted.starts_with("referral.") && matches!(role, Role::Reader) {
            errors.push(FieldError::new(
                format!("events/{i}"),
                "a reader key receives public directory events only",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

fn new_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 24] = rand::random();
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// An event of one of the logs, with what decides who receives it.
struct Event {
    at: DateTime<Utc>,
    kind: String,
    payload: String,
    audience: Audience,
}

enum Audience {
    /// Any subscription naming the event.
    Public,
    /// A confidential location of this owner: those who may see where it is ([`Actor::sees_place`]).
    Confidential { organization_id: Option<Uuid> },
    /// A referral: the receiving partner organization's and the sender's subscriptions.
    Referral { organization_id: Uuid, sender_id: Uuid },
}

impl Audience {
    fn admits(&self, subscription: &webhook_subscription::Model) -> bool {
        match self {
            Audience::Public => true,
            Audience::Confidential { organization_id } => {
                let owner = Actor::new(Role::parse(&subscription.owner_role), subscription.organization_id);
                owner.sees_place(true, *organization_id)
            }
            Audience::Referral {
                organization_id,
                sender_id,
            } => {
                (subscription.owner_role == "partner" && subscription.organization_id == Some(*organization_id))
                    || subscription.owner_id == *sender_id
            }
        }
    }
}

fn envelope(kind: &str, at: DateTime<Utc>, data: serde_json::Value) -> String {
    json!({ "type": kind, "timestamp": at.to_rfc3339(), "data": data }).to_string()
}

async fn cursor(txn: &DatabaseTransaction, source: &str) -> Result<i64> {
    Ok(webhook_cursor::Entity::find_by_id(source.to_owned())
        .one(txn)
        .await?
        .map_or(0, |row| row.position))
}

async fn set_cursor(txn: &DatabaseTransaction, source: &str, position: i64) -> Result<()> {
    let row = webhook_cursor::ActiveModel {
        source: Set(source.to_owned()),
        position: Set(position),
    };
    webhook_cursor::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(webhook_cursor::Column::Source)
                .update_column(webhook_cursor::Column::Position)
                .to_owned(),
        )
        .exec(txn)
        .await?;
    Ok(())
}

/// The directory events after `after`, at most `limit`, and the last `seq` read.
async fn directory_events(txn: &DatabaseTransaction, after: i64, limit: u64) -> Result<(Vec<Event>, i64)> {
    let changes = change_log::Entity::find()
        .filter(change_log::Column::Seq.gt(after))
        .order_by_asc(change_log::Column::Seq)
        .limit(limit)
        .all(txn)
        .await?;
    let last = changes.last().map_or(after, |c| c.seq);
    let location_ids: Vec<Uuid> = changes
        .iter()
        .filter(|c| c.entity == "location")
        .map(|c| c.entity_id)
        .collect();
    let locations: HashMap<Uuid, location::Model> = location::Entity::find()
        .filter(location::Column::Id.is_in(location_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let events = changes
        .into_iter()
        .map(|change| {
            let verb = match change.operation.as_str() {
                "create" => "created",
                "delete" => "deleted",
                _ => "updated",
            };
            let kind = format!("{}.{verb}", change.entity);
            let audience = match (change.entity.as_str(), locations.get(&change.entity_id)) {
                ("location", Some(place)) if !place.confidential => Audience::Public,
                // A confidential place, or one gone without a trace: only those who may see its address.
                ("location", place) => Audience::Confidential {
                    organization_id: place.and_then(|p| p.organization_id),
                },
                _ => Audience::Public,
            };
            let data = json!({ "id": change.entity_id, "seq": change.seq });
            Event {
                at: change.at,
                payload: envelope(&kind, change.at, data),
                kind,
                audience,
            }
        })
        .collect();
    Ok((events, last))
}

/// The referral events after `after`, at most `limit`, and the last id read. The payload holds no message
/// and no family hash.
async fn referral_events(txn: &DatabaseTransaction, after: i64, limit: u64) -> Result<(Vec<Event>, i64)> {
    let rows = referral_event::Entity::find()
        .filter(referral_event::Column::Id.gt(after))
        .order_by_asc(referral_event::Column::Id)
        .limit(limit)
        .all(txn)
        .await?;
    let last = rows.last().map_or(after, |r| r.id);
    let referral_ids: Vec<Uuid> = rows.iter().map(|r| r.referral_id).collect();
    let referrals: HashMap<Uuid, referral::Model> = referral::Entity::find()
        .filter(referral::Column::Id.is_in(referral_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let events = rows
        .into_iter()
        .filter_map(|row| {
            let referral = referrals.get(&row.referral_id)?;
            let kind = if row.from_status.is_none() {
                "referral.created"
            } else {
                "referral.status_changed"
            };
            let data = json!({
                "referral_id": referral.id,
                "service_id": referral.service_id,
                "status": row.to_status,
                "from": row.from_status,
                "reason": row.reason,
                "at": row.at.to_rfc3339(),
                "created_at": referral.created_at.to_rfc3339(),
            });
            Some(Event {
                at: row.at,
                payload: envelope(kind, row.at, data),
                kind: kind.to_owned(),
                audience: Audience::Referral {
                    organization_id: referral.organization_id,
                    sender_id: referral.sender_key_id,
                },
            })
        })
        .collect();
    Ok((events, last))
}

impl Store {
    /// Stores a subscription and answers it with its signing secret (shown once).
    pub async fn create_subscription(&self, new: NewSubscription) -> Result<(Subscription, String)> {
        validate(&new.url, &new.events, new.owner_role)?;
        let now = Utc::now();
        let secret = new_secret();
        let row = webhook_subscription::ActiveModel {
            id: Set(Uuid::new_v4()),
            url: Set(new.url),
            events: Set(serde_json::to_string(&new.events).expect("strings serialise")),
            description: Set(new.description),
            secret: Set(secret.clone()),
            owner_id: Set(new.owner_id),
            owner_role: Set(new.owner_role.as_str().to_owned()),
            organization_id: Set(new.organization_id),
            status: Set("active".into()),
            consecutive_failures: Set(0),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let row = self
            .write_unlogged(move |txn| Box::pin(async move { Ok(row.insert(txn).await?) }))
            .await?;
        Ok((row.into(), secret))
    }

    pub async fn get_subscription(&self, id: Uuid) -> Result<Subscription> {
        webhook_subscription::Entity::find_by_id(id)
            .one(self.connection())
            .await?
            .map(Subscription::from)
            .ok_or_else(|| Error::NotFound {
                entity: "webhook",
                id: id.to_string(),
            })
    }

    /// The subscriptions of `owner` (a key or person), of a partner `organization`, or all (None, None).
    pub async fn list_subscriptions(
        &self,
        owner: Option<Uuid>,
        organization: Option<Uuid>,
        page: Page,
    ) -> Result<(u64, Vec<Subscription>)> {
        let mut query = webhook_subscription::Entity::find().order_by_asc(webhook_subscription::Column::CreatedAt);
        query = match (owner, organization) {
            (Some(owner), Some(organization)) => query.filter(
                webhook_subscription::Column::OwnerId
                    .eq(owner)
                    .or(webhook_subscription::Column::OrganizationId.eq(organization)),
            ),
            (Some(owner), None) => query.filter(webhook_subscription::Column::OwnerId.eq(owner)),
            (None, Some(organization)) => query.filter(webhook_subscription::Column::OrganizationId.eq(organization)),
            (None, None) => query,
        };
        let (total, rows) = page.fetch(self.connection(), query).await?;
        Ok((total, rows.into_iter().map(Subscription::from).collect()))
    }

    pub async fn update_subscription(
        &self,
        id: Uuid,
        change: SubscriptionChange,
        expected_version: Option<i64>,
    ) -> Result<Subscription> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let row = webhook_subscription::Entity::find_by_id(id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        entity: "webhook",
                        id: id.to_string(),
                    })?;
                if let Some(expected) = expected_version
                    && expected != row.version
                {
                    return Err(Error::VersionMismatch {
                        entity: "webhook",
                        current: row.version,
                    });
                }
                let role = stored(
                    Role::parse,
                    "webhook_subscription",
                    row.id,
                    "owner_role",
                    &row.owner_role,
                )?;
                let url = change.url.unwrap_or_else(|| row.url.clone());
                let events = match change.events {
                    Some(events) => events,
                    None => stored_events(&row)?,
                };
                validate(&url, &events, role)?;
                let mut active: webhook_subscription::ActiveModel = row.clone().into();
                active.url = Set(url);
                active.events = Set(serde_json::to_string(&events).expect("strings serialise"));
                if let Some(description) = change.description {
                    active.description = Set(description);
                }
                if change.reactivate {
                    active.status = Set("active".into());
                    active.consecutive_failures = Set(0);
                }
                active.version = Set(row.version + 1);
                active.updated_at = Set(Utc::now());
                Ok(active.update(txn).await?.into())
            })
        })
        .await
    }

    /// Deletes a subscription and its deliveries.
    pub async fn delete_subscription(&self, id: Uuid) -> Result<()> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                webhook_delivery::Entity::delete_many()
                    .filter(webhook_delivery::Column::SubscriptionId.eq(id))
                    .exec(txn)
                    .await?;
                let deleted = webhook_subscription::Entity::delete_by_id(id).exec(txn).await?;
                if deleted.rows_affected == 0 {
                    return Err(Error::NotFound {
                        entity: "webhook",
                        id: id.to_string(),
                    });
                }
                Ok(())
            })
        })
        .await
    }

    /// A subscription's deliveries, newest first.
    pub async fn list_deliveries(&self, subscription_id: Uuid, page: Page) -> Result<(u64, Vec<Delivery>)> {
        let query = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::SubscriptionId.eq(subscription_id))
            .order_by_desc(webhook_delivery::Column::Id);
        let (total, rows) = page.fetch(self.connection(), query).await?;
        Ok((total, rows.into_iter().map(Delivery::from).collect()))
    }

    /// Sends a delivery again from the start of the retry schedule (a failed one, or a pending one now).
    pub async fn retry_delivery(&self, subscription_id: Uuid, delivery_id: i64) -> Result<Delivery> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let row = webhook_delivery::Entity::find_by_id(delivery_id)
                    .filter(webhook_delivery::Column::SubscriptionId.eq(subscription_id))
                    .one(txn)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        entity: "delivery",
                        id: delivery_id.to_string(),
                    })?;
                if row.status == "delivered" {
                    return Err(Error::Conflict(
                        "the delivery was delivered; it is not sent again".into(),
                    ));
                }
                let mut active: webhook_delivery::ActiveModel = row.into();
                active.status = Set("pending".into());
                active.attempts = Set(0);
                active.next_attempt_at = Set(Utc::now());
                active.locked_until = Set(None);
                Ok(active.update(txn).await?.into())
            })
        })
        .await
    }

    /// How many deliveries are `pending`, `delivered` and `failed` (each status, zeros too).
    pub async fn webhook_delivery_counts(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::Status)
            .column_as(webhook_delivery::Column::Id.count(), "count")
            .group_by(webhook_delivery::Column::Status)
            .into_tuple()
            .all(self.connection())
            .await?;
        Ok(["pending", "delivered", "failed"]
            .into_iter()
            .map(|status| {
                let count = rows.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
                (status.to_owned(), u64::try_from(count).unwrap_or(0))
            })
            .collect())
    }

    /// Fans the log entries written since the last round out into deliveries; answers how many were made.
    pub async fn fan_out_webhook_events(&self) -> Result<usize> {
        // A look without the write lock first: most rounds find nothing new.
        let positions: HashMap<String, i64> = webhook_cursor::Entity::find()
            .all(self.connection())
            .await?
            .into_iter()
            .map(|row| (row.source, row.position))
            .collect();
        let latest_event: Option<Option<i64>> = referral_event::Entity::find()
            .select_only()
            .column_as(referral_event::Column::Id.max(), "max_id")
            .into_tuple()
            .one(self.connection())
            .await?;
        let nothing_new = self.latest_seq().await? <= positions.get("change_log").copied().unwrap_or(0)
            && latest_event.flatten().unwrap_or(0) <= positions.get("referral_event").copied().unwrap_or(0);
        if nothing_new {
            return Ok(0);
        }
        self.write(|txn| {
            Box::pin(async move {
                let change_cursor = cursor(txn, "change_log").await?;
                let referral_cursor = cursor(txn, "referral_event").await?;
                let subscriptions = webhook_subscription::Entity::find().all(txn).await?;
                let (mut events, change_last) = directory_events(txn, change_cursor, FAN_OUT_BATCH).await?;
                let (referral_events, referral_last) = referral_events(txn, referral_cursor, FAN_OUT_BATCH).await?;
                events.extend(referral_events);
                // Both logs in time order; the sort is stable, so each log keeps its own order.
                events.sort_by_key(|event| event.at);
                let mut made = 0;
                let mut rows = Vec::new();
                for event in &events {
                    for subscription in &subscriptions {
                        let wanted = stored_events(subscription)?;
                        let named = wanted.iter().any(|w| names(w, &event.kind));
                        let referral_ok = !is_referral_event(&event.kind) || subscription.owner_role != "reader";
                        if named
                            && referral_ok
                            && event.at >= subscription.created_at
                            && event.audience.admits(subscription)
                        {
                            rows.push(webhook_delivery::ActiveModel {
                                subscription_id: Set(subscription.id),
                                message_id: Set(format!("msg_{}", Uuid::new_v4().simple())),
                                event_type: Set(event.kind.clone()),
                                payload: Set(event.payload.clone()),
                                status: Set("pending".into()),
                                attempts: Set(0),
                                next_attempt_at: Set(event.at),
                                locked_until: Set(None),
                                last_status: Set(None),
                                last_error: Set(None),
                                created_at: Set(Utc::now()),
                                delivered_at: Set(None),
                                ..Default::default()
                            });
                            made += 1;
                        }
                    }
                }
                for chunk in rows.chunks(200) {
                    webhook_delivery::Entity::insert_many(chunk.to_vec()).exec(txn).await?;
                }
                if change_last != change_cursor {
                    set_cursor(txn, "change_log", change_last).await?;
                }
                if referral_last != referral_cursor {
                    set_cursor(txn, "referral_event", referral_last).await?;
                }
                Ok(made)
            })
        })
        .await
    }

    /// Claims up to `limit` deliveries due now, the oldest pending one of each subscription, for `lease`.
    ///
    /// With each head come up to `follow - 1` of the same subscription's next pending deliveries, leased too, to
    /// be sent one after the other: other nodes claim only heads, so none of them can take these while the
    /// head is this node's. Answers the deliveries per subscription, in order.
    pub async fn claim_webhook_deliveries(
        &self,
        limit: u64,
        follow: u64,
        lease: Duration,
    ) -> Result<Vec<Vec<ClaimedDelivery>>> {
        let postgres = self.backend() == DbBackend::Postgres;
        let claimed = self
            .write_unlogged(move |txn| {
                Box::pin(async move {
                    let now = Utc::now();
                    let mut query = webhook_delivery::Entity::find()
                        .filter(webhook_delivery::Column::Status.eq("pending"))
                        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
                        .filter(
                            webhook_delivery::Column::LockedUntil
                                .is_null()
                                .or(webhook_delivery::Column::LockedUntil.lte(now)),
                        )
                        // Only the head of each subscription's queue: deliveries go out in order.
                        .filter(Expr::cust(
                            "NOT EXISTS (SELECT 1 FROM webhook_delivery AS earlier \
                             WHERE earlier.subscription_id = webhook_delivery.subscription_id \
                             AND earlier.status = 'pending' AND earlier.id < webhook_delivery.id)",
                        ))
                        .order_by_asc(webhook_delivery::Column::Id)
                        .limit(limit);
                    if postgres {
                        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
                    }
                    let heads = query.all(txn).await?;
                    let mut rows = Vec::with_capacity(heads.len());
                    for head in heads {
                        let next = webhook_delivery::Entity::find()
                            .filter(webhook_delivery::Column::SubscriptionId.eq(head.subscription_id))
                            .filter(webhook_delivery::Column::Status.eq("pending"))
                            .filter(webhook_delivery::Column::Id.gt(head.id))
                            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
                            .order_by_asc(webhook_delivery::Column::Id)
                            .limit(follow.saturating_sub(1))
                            .all(txn)
                            .await?;
                        rows.push(head);
                        rows.extend(next);
                    }
                    if rows.is_empty() {
                        return Ok(vec![]);
                    }
                    let lease_end = now + chrono::Duration::from_std(lease).unwrap_or_default();
                    webhook_delivery::Entity::update_many()
                        .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(lease_end))
                        .filter(webhook_delivery::Column::Id.is_in(rows.iter().map(|r| r.id)))
                        .exec(txn)
                        .await?;
                    Ok(rows)
                })
            })
            .await?;
        if claimed.is_empty() {
            return Ok(vec![]);
        }
        let subscriptions: HashMap<Uuid, webhook_subscription::Model> = webhook_subscription::Entity::find()
            .filter(webhook_subscription::Column::Id.is_in(claimed.iter().map(|d| d.subscription_id)))
            .all(self.connection())
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let mut batches: Vec<Vec<ClaimedDelivery>> = Vec::new();
        for delivery in claimed {
            let Some(subscription) = subscriptions.get(&delivery.subscription_id) else {
                continue;
            };
            let claimed = ClaimedDelivery {
                id: delivery.id,
                subscription_id: delivery.subscription_id,
                message_id: delivery.message_id,
                payload: delivery.payload,
                url: subscription.url.clone(),
                secret: subscription.secret.clone(),
                attempts: delivery.attempts,
            };
            match batches.last_mut() {
                Some(batch) if batch[0].subscription_id == claimed.subscription_id => batch.push(claimed),
                _ => batches.push(vec![claimed]),
            }
        }
        Ok(batches)
    }

    /// Gives claimed deliveries back unsent (their head failed): the next round takes them again, in order.
    pub async fn release_webhook_deliveries(&self, ids: Vec<i64>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                webhook_delivery::Entity::update_many()
                    .col_expr(
                        webhook_delivery::Column::LockedUntil,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .filter(webhook_delivery::Column::Id.is_in(ids))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Records that these claimed deliveries of one subscription were delivered, in one transaction.
    pub async fn record_webhooks_delivered(&self, subscription_id: Uuid, ids: Vec<i64>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                webhook_delivery::Entity::update_many()
                    .col_expr(webhook_delivery::Column::Status, Expr::value("delivered"))
                    .col_expr(
                        webhook_delivery::Column::Attempts,
                        Expr::col(webhook_delivery::Column::Attempts).add(1),
                    )
                    .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(Some(Utc::now())))
                    .col_expr(
                        webhook_delivery::Column::LockedUntil,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(webhook_delivery::Column::LastError, Expr::value(Option::<String>::None))
                    .filter(webhook_delivery::Column::Id.is_in(ids))
                    .exec(txn)
                    .await?;
                webhook_subscription::Entity::update_many()
                    .col_expr(webhook_subscription::Column::ConsecutiveFailures, Expr::value(0))
                    .filter(webhook_subscription::Column::Id.eq(subscription_id))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Records a failed attempt (`status`: the receiver's answer, if any): tried again after the next wait of
    /// `retry_waits` (with ±20 % jitter), or, once they are used up, failed for good, which marks the
    /// subscription `failing`. Answers whether the subscription became `failing` by it.
    pub async fn record_webhook_failure(
        &self,
        delivery: &ClaimedDelivery,
        status: Option<u16>,
        error: String,
        retry_waits: &[Duration],
    ) -> Result<bool> {
        let id = delivery.id;
        let subscription_id = delivery.subscription_id;
        let attempts = delivery.attempts + 1;
        let wait = retry_waits.get(delivery.attempts as usize).map(|wait| {
            let jitter = 0.8 + 0.4 * rand::random::<f64>();
            wait.mul_f64(jitter)
        });
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let now = Utc::now();
                let mut row = webhook_delivery::ActiveModel {
                    id: Set(id),
                    attempts: Set(attempts),
                    locked_until: Set(None),
                    last_status: Set(status.map(i32::from)),
                    last_error: Set(Some(error.chars().take(500).collect())),
                    ..Default::default()
                };
                let mut became_failing = false;
                match wait {
                    Some(wait) => {
                        row.next_attempt_at = Set(now + chrono::Duration::from_std(wait).unwrap_or_default());
                    }
                    None => {
                        row.status = Set("failed".into());
                        let subscription = webhook_subscription::Entity::find_by_id(subscription_id)
                            .one(txn)
                            .await?;
                        if let Some(subscription) = subscription {
                            became_failing = subscription.status != "failing";
                            let mut active: webhook_subscription::ActiveModel = subscription.clone().into();
                            active.status = Set("failing".into());
                            active.consecutive_failures = Set(subscription.consecutive_failures + 1);
                            active.update(txn).await?;
                        }
                    }
                }
                row.update(txn).await?;
                Ok(became_failing)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_event_types() {
        assert!(names("service.*", "service.updated"));
        assert!(names("service.updated", "service.updated"));
        assert!(!names("service.*", "services.updated"));
        assert!(!names("referral.created", "referral.status_changed"));
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_readers_get_no_referrals() {
        let events = vec!["service.*".to_owned()];
        assert!(validate("https://app.example.org/hook", &events, Role::Reader).is_ok());
        assert!(validate("ftp://app.example.org/hook", &events, Role::Reader).is_err());
        assert!(validate("https://user:pw@app.example.org/", &events, Role::Reader).is_err());
        assert!(validate("https:///path", &events, Role::Reader).is_err());
        assert!(validate("https://a.example/", &["referral.created".into()], Role::Reader).is_err());
        assert!(validate("https://a.example/", &["referral.created".into()], Role::Partner).is_ok());
        assert!(validate("https://a.example/", &["nothing.happened".into()], Role::Admin).is_err());
        assert!(validate("https://a.example/", &[], Role::Admin).is_err());
    }
}
