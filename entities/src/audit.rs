//! The audit trail: who did what to which record, when. Written for every access to sensitive data.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
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

impl Store {
    /// Records one access by a key (`key_id`) or a person (`person_id`).
    #[allow(clippy::too_many_arguments)] // one row's columns
    pub async fn record_audit(
        &self,
        key_id: Option<Uuid>,
        person_id: Option<Uuid>,
        role: &str,
        organization_id: Option<Uuid>,
        action: &str,
        entity: &str,
        entity_id: Option<Uuid>,
    ) -> Result<()> {
        let row = audit_event::ActiveModel {
            key_id: Set(key_id),
            person_id: Set(person_id),
            role: Set(role.to_owned()),
            organization_id: Set(organization_id),
            action: Set(action.to_owned()),
            entity: Set(entity.to_owned()),
            entity_id: Set(entity_id),
            at: Set(Utc::now()),
            ..Default::default()
        };
        self.write_unlogged(move |txn| Box::pin(async move { Ok(row.insert(txn).await.map(drop)?) }))
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
