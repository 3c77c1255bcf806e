//! The audit trail: who did what to which record, when. Written for every access to sensitive data.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::error::Result;
use crate::store::{Page, Store};
use crate::tables::audit_event;

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub key_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub entity_id: Option<Uuid>,
    pub key_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Who accessed a record, as its audit row names them: a key (apps) or a person (the web app), with the role
/// and organization they acted in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accessor {
    pub key_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub role: String,
    pub organization_id: Option<Uuid>,
}

impl Accessor {
    fn row(&self, action: &str, entity: &str, entity_id: Option<Uuid>, at: DateTime<Utc>) -> audit_event::ActiveModel {
        audit_event::ActiveModel {
            key_id: Set(self.key_id),
            person_id: Set(self.person_id),
            role: Set(self.role.clone()),
            organization_id: Set(self.organization_id),
            action: Set(action.to_owned()),
            entity: Set(entity.to_owned()),
            entity_id: Set(entity_id),
            at: Set(at),
            ..Default::default()
        }
    }
}

/// Writes one audit row inside the caller's transaction, so that a change and the record of who made it
/// commit together or not at all.
pub(crate) async fn insert_audit(
    txn: &impl ConnectionTrait,
    who: &Accessor,
    action: &str,
    entity: &str,
    entity_id: Option<Uuid>,
) -> Result<()> {
    who.row(action, entity, entity_id, Utc::now()).insert(txn).await?;
    Ok(())
}

impl Store {
    /// Records one access that changes nothing (a read, a list, a report).
    pub async fn record_audit(
        &self,
        who: &Accessor,
        action: &str,
        entity: &str,
        entity_id: Option<Uuid>,
    ) -> Result<()> {
        let who = who.clone();
        let (action, entity) = (action.to_owned(), entity.to_owned());
        self.write_unlogged(move |txn| {
            Box::pin(async move { insert_audit(txn, &who, &action, &entity, entity_id).await })
        })
        .await
    }

    /// Records one access to each of `entity_ids` (a list read), one row each, in one statement.
    pub async fn record_audit_each(
        &self,
        who: &Accessor,
        action: &str,
        entity: &str,
        entity_ids: &[Uuid],
    ) -> Result<()> {
        if entity_ids.is_empty() {
            return Ok(());
        }
        let at = Utc::now();
        let rows: Vec<_> = entity_ids
            .iter()
            .map(|id| who.row(action, entity, Some(*id), at))
            .collect();
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                audit_event::Entity::insert_many(rows).exec(txn).await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn list_audit(&self, filter: &AuditFilter, page: Page) -> Result<(u64, Vec<AuditEvent>)> {
        let mut query = audit_event::Entity::find();
        if let Some(id) = filter.entity_id {
            query = query.filter(audit_event::Column::EntityId.eq(id));
        }
        if let Some(id) = filter.key_id {
            query = query.filter(audit_event::Column::KeyId.eq(id));
        }
        if let Some(id) = filter.person_id {
            query = query.filter(audit_event::Column::PersonId.eq(id));
        }
        if let Some(from) = filter.from {
            query = query.filter(audit_event::Column::At.gte(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(audit_event::Column::At.lt(to));
        }
        let (total, rows) = page
            .fetch(self.connection(), query.order_by_asc(audit_event::Column::Id))
            .await?;
        Ok((
            total,
            rows.into_iter()
                .map(|r| AuditEvent {
                    id: r.id,
                    key_id: r.key_id,
                    person_id: r.person_id,
                    role: r.role,
                    organization_id: r.organization_id,
                    action: r.action,
                    entity: r.entity,
                    entity_id: r.entity_id,
                    at: r.at,
                })
                .collect(),
        ))
    }
}
