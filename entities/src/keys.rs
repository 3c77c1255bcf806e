//! API keys: random 256-bit secrets, stored as SHA-256 hashes, each bound to a role and, for partners,
//! to one organization.

use chrono::Utc;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
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
}
