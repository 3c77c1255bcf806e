//! API keys: random 256-bit secrets, stored as SHA-256 hashes, each bound to a role and, for partners,
//! to one organization.

use chrono::DateTime;
use chrono::Utc;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::directory::Role;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tables::{api_key, organization};

/// Who a valid key belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHolder {
    pub key_id: Uuid,
    pub role: Role,
    pub organization_id: Option<Uuid>,
}

/// A key as `keys list` and the admin's key page show it: never its secret (nor its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: Uuid,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn key_info(row: api_key::Model) -> KeyInfo {
    KeyInfo {
        id: row.id,
        role: row.role,
        organization_id: row.organization_id,
        label: row.label,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    }
}

const SECRET_PREFIX: &str = "bb_";

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Creates a key and returns its id and the secret, which is shown once and never stored.
    pub async fn create_key(
        &self,
        role: Role,
        organization_id: Option<Uuid>,
        label: Option<String>,
    ) -> Result<(Uuid, String)> {
        match (role, organization_id) {
            (Role::Partner, None) => return Err(Error::invalid("organization", "a partner key needs --organization")),
            (Role::Partner, Some(org)) => {
                if organization::Entity::find_by_id(org)
                    .one(self.connection())
                    .await?
                    .is_none()
                {
                    return Err(Error::invalid("organization", format!("no organization {org}")));
                }
            }
            (_, Some(_)) => {
                return Err(Error::invalid(
                    "organization",
                    "only partner keys belong to an organization",
                ));
            }
            (_, None) => {}
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{SECRET_PREFIX}{}", hex::encode(bytes));
        let id = Uuid::new_v4();
        api_key::ActiveModel {
            id: Set(id),
            secret_hash: Set(hash_secret(&secret)),
            role: Set(role.as_str().to_owned()),
            organization_id: Set(organization_id),
            label: Set(label),
            created_at: Set(Utc::now()),
            revoked_at: Set(None),
        }
        .insert(self.connection())
        .await?;
        Ok((id, secret))
    }

    /// The holder of `secret`, or None when it is unknown or revoked.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<KeyHolder>> {
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Ok(None);
        }
        let row = api_key::Entity::find()
            .filter(api_key::Column::SecretHash.eq(hash_secret(secret)))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(self.connection())
            .await?;
        Ok(row.and_then(|row| {
            Some(KeyHolder {
                key_id: row.id,
                role: Role::parse(&row.role)?,
                organization_id: row.organization_id,
            })
        }))
    }

    /// Every key (of `organization_id`, when given), newest first.
    pub async fn list_keys(&self, organization_id: Option<Uuid>) -> Result<Vec<KeyInfo>> {
        let mut query = api_key::Entity::find();
        if let Some(org) = organization_id {
            query = query.filter(api_key::Column::OrganizationId.eq(org));
        }
        Ok(query
            .order_by_desc(api_key::Column::CreatedAt)
            .order_by_asc(api_key::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(key_info)
            .collect())
    }

    /// Revokes a key: from the next request on it authenticates nothing, on every server (each request
    /// reads the key's row). Revoking a revoked key keeps its first revocation time.
    pub async fn revoke_key(&self, id: Uuid) -> Result<KeyInfo> {
        let update = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(Utc::now())))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null());
        self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
            .await?;
        api_key::Entity::find_by_id(id)
            .one(self.connection())
            .await?
            .map(key_info)
            .ok_or(Error::NotFound {
                entity: "key",
                id: id.to_string(),
            })
    }
}
