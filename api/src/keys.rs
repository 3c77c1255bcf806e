//! `/v1/keys`: the municipality's admin lists the API keys and revokes them (as `brobygger keys list` and
//! `keys revoke` do). Keys are still made with `brobygger keys create` or on the admin's web page, where the
//! secret is shown once; nothing here ever returns a secret or its hash. A revoked key answers 401 from the
//! next request on, on every server. Revocations are audited.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entities::directory::Role;
use entities::keys::KeyInfo;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::auth::Auth;
use crate::directory::page_of;
use crate::problem::ApiResult;
use crate::state::AppState;
use crate::wire::PageOf;

#[derive(Tags)]
pub enum KeyTag {
    /// API keys of apps and integrations: listed and revoked by the municipality's admin.
    ApiKeys,
}

/// An API key, without its secret.
#[derive(Clone, Debug, Object)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    /// `admin`, `caseworker`, `partner` or `reader`.
    pub role: String,
    /// The organization a partner key acts for.
    pub organization_id: Option<Uuid>,
    /// What the key is for, as given when it was made.
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was revoked; null while it works.
    pub revoked_at: Option<DateTime<Utc>>,
    /// `active` or `revoked`.
    pub status: String,
}

impl From<KeyInfo> for ApiKeyInfo {
    fn from(key: KeyInfo) -> Self {
        ApiKeyInfo {
            id: key.id,
            role: key.role,
            organization_id: key.organization_id,
            label: key.label,
            created_at: key.created_at,
            status: if key.revoked_at.is_some() { "revoked" } else { "active" }.to_owned(),
            revoked_at: key.revoked_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum Revoked {
    /// The key is revoked (revoking a revoked key keeps its first revocation time).
    #[oai(status = 204)]
    NoContent,
}

pub struct KeyApi {
    pub state: Arc<AppState>,
}

#[OpenApi(prefix_path = "/v1")]
impl KeyApi {
    /// List API keys (admin)
    ///
    /// Newest first, revoked keys too; never their secrets. `organization_id` lists one organization's keys.
    #[oai(
        path = "/keys",
        method = "get",
        tag = "KeyTag::ApiKeys",
        operation_id = "listApiKeys"
    )]
    async fn list(
        &self,
        auth: Auth,
        organization_id: Query<Option<Uuid>>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
    ) -> ApiResult<Json<PageOf<ApiKeyInfo>>> {
        auth.caller().require(&[Role::Admin])?;
        let page = page_of(page.0, per_page.0)?;
        // Keys are few (one per app or integration): list them all and cut the page here.
        let keys = self.state.store.list_keys(organization_id.0).await?;
        let total = keys.len() as u64;
        let skip = usize::try_from((page.page - 1) * page.per_page).unwrap_or(usize::MAX);
        Ok(Json(PageOf::new(
            total,
            page,
            keys.into_iter().skip(skip).take(page.per_page as usize).map(Into::into),
        )))
    }

    /// Revoke an API key (admin)
    ///
    /// From the next request on the key answers 401, on every server. An unknown id is 404.
    #[oai(
        path = "/keys/:id",
        method = "delete",
        tag = "KeyTag::ApiKeys",
        operation_id = "revokeApiKey"
    )]
    async fn revoke(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<Revoked> {
        let caller = auth.caller();
        caller.require(&[Role::Admin])?;
        let key = self.state.store.revoke_key(id.0).await?;
        caller
            .audit(&self.state.store, "revoke", "api_key", Some(key.id))
            .await?;
        tracing::info!(key = %key.id, "key revoked through the API");
        Ok(Revoked::NoContent)
    }
}
