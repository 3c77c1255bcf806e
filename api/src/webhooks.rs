//! `/v1/webhooks`: subscriptions to events, signed as Standard Webhooks say, delivered at least once and in
//! order per subscription by `webhook_worker`. Who may subscribe to what: an admin to any event; a partner to
//! its own organization's referral events and the public directory's; a caseworker to the referrals it sent
//! and the directory; a reader key to the public directory only. Each subscription is seen and changed by the
//! key or person that made it (a partner's also by its organization), and by admins.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entities::directory::Role;
use entities::webhooks::{Delivery, NewSubscription, Subscription, SubscriptionChange};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::auth::{Auth, Caller};
use crate::directory::{etag, expected_version, page_of};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::PageOf;

#[derive(Tags)]
pub enum WebhookTag {
    /// Be told of changes instead of polling: signed POSTs (Standard Webhooks) to your URL.
    Webhooks,
}

/// What to be told of, and where.
#[derive(Clone, Debug, Object)]
pub struct WebhookInput {
    /// `https://` (or `http://`) URL that takes the POSTs. Private and loopback addresses are refused unless
    /// the server allows them (`BROBYGGER_WEBHOOK_ALLOW_PRIVATE`).
    pub url: String,
    /// Event types: `service.created|updated|deleted`, `organization.*`, `location.*`, `referral.created`,
    /// `referral.status_changed`; `<entity>.*` names all of one entity's.
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Changes to a subscription; fields left out stay.
#[derive(Clone, Debug, Object)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// An empty text removes the description.
    pub description: Option<String>,
    /// `active` clears `failing` after the receiver is fixed.
    pub status: Option<String>,
}

#[derive(Clone, Debug, Object)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// `active`, or `failing` once a delivery used up its retries (deliveries go on being tried).
    pub status: String,
    /// Deliveries in a row that used up their retries.
    pub consecutive_failures: i32,
    pub organization_id: Option<Uuid>,
    /// Increases with every change; the ETag is this number in quotes.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Subscription> for Webhook {
    fn from(s: Subscription) -> Self {
        Webhook {
            id: s.id,
            url: s.url,
            events: s.events,
            description: s.description,
            status: s.status,
            consecutive_failures: s.consecutive_failures,
            organization_id: s.organization_id,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A new subscription with its signing secret, shown this once.
#[derive(Clone, Debug, Object)]
pub struct CreatedWebhook {
    #[oai(flatten)]
    pub webhook: Webhook,
    /// `whsec_…`: verify each POST's `webhook-signature` with it (any Standard Webhooks library does).
    pub secret: String,
}

#[derive(Clone, Debug, Object)]
pub struct WebhookDelivery {
    pub id: i64,
    /// The `webhook-id` header: the same on every attempt, so receivers can drop repeats.
    pub message_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (retries used up; `POST …/retry` starts over).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    /// The receiver's HTTP status at the last attempt.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for WebhookDelivery {
    fn from(d: Delivery) -> Self {
        WebhookDelivery {
            id: d.id,
            message_id: d.message_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum WebhookCreated {
    #[oai(status = 201)]
    Created(Json<CreatedWebhook>),
}

#[derive(ApiResponse)]
pub enum WebhookResponse {
    #[oai(status = 200)]
    Ok(Json<Webhook>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum WebhookDeleted {
    /// The subscription and its delivery log are gone.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
pub enum RetryQueued {
    /// The delivery is queued again, from the first attempt.
    #[oai(status = 202)]
    Accepted(Json<WebhookDelivery>),
}

pub struct WebhookApi {
    pub state: Arc<AppState>,
}

/// Who may subscribe at all, and to referral events.
fn subscriber(caller: &Caller) -> Result<(Uuid, Role), ApiError> {
    let (Some(role), Some(owner)) = (caller.role, caller.principal_id()) else {
        return Err(ApiError::Unauthorized(
            "webhooks need an API key (Authorization: Bearer ...)".into(),
        ));
    };
    Ok((owner, role))
}

/// The subscription `id`, if `caller` may see it; 404 otherwise (its existence is not disclosed).
async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<Subscription, ApiError> {
    let (owner, role) = subscriber(caller)?;
    let subscription = state.store.get_subscription(id).await?;
    let same_organization = role == Role::Partner
        && subscription.organization_id.is_some()
        && subscription.organization_id == caller.organization_id;
    if role == Role::Admin || subscription.owner_id == owner || same_organization {
        Ok(subscription)
    } else {
        Err(ApiError::NotFound(format!("no webhook {id}")))
    }
}

/// Refuses targets on private, loopback or link-local addresses unless the server allows them: the server
/// must not be a way into its own network (SSRF).
pub async fn check_target(state: &AppState, url: &str) -> Result<(), ApiError> {
    if state.webhooks.allow_private_targets {
        return Ok(());
    }
    crate::webhook_worker::public_target(url)
        .await
        .map_err(|reason| ApiError::Invalid(vec![entities::FieldError::new("url", reason)]))
}

#[OpenApi(prefix_path = "/v1")]
impl WebhookApi {
    /// Subscribe to events
    ///
    /// Answers the subscription with its signing secret, shown only here. Events that happen from now on
    /// are POSTed to `url` as `{"type", "timestamp", "data"}` with the headers `webhook-id`,
    /// `webhook-timestamp` and `webhook-signature`.
    #[oai(
        path = "/webhooks",
        method = "post",
        tag = "WebhookTag::Webhooks",
        operation_id = "createWebhook"
    )]
    async fn create(&self, auth: Auth, input: Json<WebhookInput>) -> ApiResult<WebhookCreated> {
        let caller = auth.caller();
        let (owner, role) = subscriber(&caller)?;
        let input = input.0;
        entities::webhooks::validate(&input.url, &input.events, role)?;
        check_target(&self.state, &input.url).await?;
        let (subscription, secret) = self
            .state
            .store
            .create_subscription(NewSubscription {
                url: input.url,
                events: input.events,
                description: input.description.filter(|d| !d.trim().is_empty()),
                owner_id: owner,
                owner_role: role,
                organization_id: if role == Role::Partner {
                    caller.organization_id
                } else {
                    None
                },
            })
            .await?;
        Ok(WebhookCreated::Created(Json(CreatedWebhook {
            webhook: subscription.into(),
            secret,
        })))
    }

    /// List your subscriptions
    ///
    /// Yours (a partner's: its organization's); an admin's: all.
    #[oai(
        path = "/webhooks",
        method = "get",
        tag = "WebhookTag::Webhooks",
        operation_id = "listWebhooks"
    )]
    async fn list(
        &self,
        auth: Auth,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
    ) -> ApiResult<Json<PageOf<Webhook>>> {
        let caller = auth.caller();
        let (owner, role) = subscriber(&caller)?;
        let paging = page_of(page.0, per_page.0)?;
        let (owner, organization) = match role {
            Role::Admin => (None, None),
            Role::Partner => (Some(owner), caller.organization_id),
            _ => (Some(owner), None),
        };
        let (total, items) = self.state.store.list_subscriptions(owner, organization, paging).await?;
        Ok(Json(PageOf::new(total, paging, items.into_iter().map(Into::into))))
    }

    /// Read a subscription
    #[oai(
        path = "/webhooks/:id",
        method = "get",
        tag = "WebhookTag::Webhooks",
        operation_id = "getWebhook"
    )]
    async fn get(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<WebhookResponse> {
        let subscription = visible(&self.state, &auth.caller(), id.0).await?;
        let tag = etag(subscription.version);
        Ok(WebhookResponse::Ok(Json(subscription.into()), tag))
    }

    /// Change a subscription
    ///
    /// The fields given replace the current ones; `status: "active"` clears `failing`. `If-Match` with the
    /// ETag guards against overwriting someone else's change (412).
    #[oai(
        path = "/webhooks/:id",
        method = "patch",
        tag = "WebhookTag::Webhooks",
        operation_id = "patchWebhook"
    )]
    async fn patch(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        input: Json<WebhookPatch>,
    ) -> ApiResult<WebhookResponse> {
        let caller = auth.caller();
        visible(&self.state, &caller, id.0).await?;
        let input = input.0;
        let reactivate = match input.status.as_deref() {
            None => false,
            Some("active") => true,
            Some(other) => {
                return Err(ApiError::Invalid(vec![entities::FieldError::new(
                    "status",
                    format!("only `active` can be set, not `{other}`"),
                )])
                .into());
            }
        };
        if let Some(url) = &input.url {
            check_target(&self.state, url).await?;
        }
        let updated = self
            .state
            .store
            .update_subscription(
                id.0,
                SubscriptionChange {
                    url: input.url,
                    events: input.events,
                    description: input.description.map(|d| Some(d).filter(|d| !d.trim().is_empty())),
                    reactivate,
                },
                expected_version(if_match.0.as_deref())?,
            )
            .await?;
        let tag = etag(updated.version);
        Ok(WebhookResponse::Ok(Json(updated.into()), tag))
    }

    /// Delete a subscription
    #[oai(
        path = "/webhooks/:id",
        method = "delete",
        tag = "WebhookTag::Webhooks",
        operation_id = "deleteWebhook"
    )]
    async fn delete(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<WebhookDeleted> {
        visible(&self.state, &auth.caller(), id.0).await?;
        self.state.store.delete_subscription(id.0).await?;
        Ok(WebhookDeleted::NoContent)
    }

    /// A subscription's delivery log
    ///
    /// Newest first: each event's status, attempts, the receiver's last answer and error.
    #[oai(
        path = "/webhooks/:id/deliveries",
        method = "get",
        tag = "WebhookTag::Webhooks",
        operation_id = "listWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
    ) -> ApiResult<Json<PageOf<WebhookDelivery>>> {
        visible(&self.state, &auth.caller(), id.0).await?;
        let paging = page_of(page.0, per_page.0)?;
        let (total, items) = self.state.store.list_deliveries(id.0, paging).await?;
        Ok(Json(PageOf::new(total, paging, items.into_iter().map(Into::into))))
    }

    /// Send a delivery again
    ///
    /// A failed (or still pending) delivery is queued again from its first attempt; a delivered one is 409.
    #[oai(
        path = "/webhooks/:id/deliveries/:delivery/retry",
        method = "post",
        tag = "WebhookTag::Webhooks",
        operation_id = "retryWebhookDelivery"
    )]
    async fn retry(&self, auth: Auth, id: Path<Uuid>, delivery: Path<i64>) -> ApiResult<RetryQueued> {
        visible(&self.state, &auth.caller(), id.0).await?;
        let queued = self.state.store.retry_delivery(id.0, delivery.0).await?;
        self.state.webhook_wakeup.notify_one();
        Ok(RetryQueued::Accepted(Json(queued.into())))
    }
}
