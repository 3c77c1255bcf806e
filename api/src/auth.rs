//! Who is calling. A middleware resolves `Authorization: Bearer <key>` once per request into a [`Caller`]
//! (an unknown key is a 401 right there); endpoints take [`Auth`] and ask it for permissions. Who may see
//! and change which directory record (a partner's own organization, the owner of a place) is decided by
//! `entities::access`, which the store applies to every write.

use std::sync::Arc;

use entities::access::Actor;
use entities::audit::Accessor;
use entities::directory::Role;
use poem::http::StatusCode;
use poem::{Endpoint, Middleware, Request, Response};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use uuid::Uuid;

use crate::problem::{ApiError, problem_response};
use crate::state::AppState;

/// The resolved caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The API key, for apps.
    pub key_id: Option<Uuid>,
    /// The logged-in person, for the web app.
    pub person_id: Option<Uuid>,
    /// None for anonymous callers.
    pub role: Option<Role>,
    pub organization_id: Option<Uuid>,
    /// A caseworker person's team: colleagues of one team see each other's referrals.
    pub team: Option<String>,
}

impl Caller {
    pub const ANONYMOUS: Caller = Caller {
        key_id: None,
        person_id: None,
        role: None,
        organization_id: None,
        team: None,
    };

    /// The key or person acting: what referrals record as their sender and events as their actor.
    pub fn principal_id(&self) -> Option<Uuid> {
        self.person_id.or(self.key_id)
    }

    /// This caller as the audit trail names it.
    pub fn accessor(&self) -> Accessor {
        Accessor {
            key_id: self.key_id,
            person_id: self.person_id,
            role: self.role_name().to_owned(),
            organization_id: self.organization_id,
        }
    }

    /// Writes an audit row of this caller doing `action` to `entity` (`id`), for an access that changes
    /// nothing; a change writes its own row in its transaction.
    pub async fn audit(
        &self,
        store: &entities::Store,
        action: &str,
        entity: &str,
        id: Option<Uuid>,
    ) -> Result<(), ApiError> {
        store.record_audit(&self.accessor(), action, entity, id).await?;
        Ok(())
    }

    pub fn role_name(&self) -> &'static str {
        self.role.map_or("anonymous", Role::as_str)
    }

    pub fn is(&self, role: Role) -> bool {
        self.role == Some(role)
    }

    /// 401 for anonymous callers, 403 for keys whose role is not in `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        match self.role {
            None => Err(ApiError::Unauthorized(
                "this endpoint needs an API key (Authorization: Bearer ...)".into(),
            )),
            Some(role) if roles.contains(&role) => Ok(()),
            Some(role) => Err(ApiError::Forbidden(format!("a {role} key may not do this"))),
        }
    }

    /// The caller as the directory's rules (`entities::access`) see it.
    pub fn actor(&self) -> Actor {
        Actor::new(self.role, self.organization_id)
    }

    /// Writes to an organization's records: 401 for anonymous callers, then admin anywhere and a partner
    /// only inside its own organization ([`Actor::may_write_for`]).
    pub fn require_directory_writer(&self, organization_id: Uuid) -> Result<(), ApiError> {
        self.require(&[Role::Admin, Role::Partner])?;
        Ok(self.actor().may_write_for(organization_id)?)
    }

    /// May this caller know where every confidential location is? ([`Actor::sees_all_confidential`])
    pub fn sees_all_confidential(&self) -> bool {
        self.actor().sees_all_confidential()
    }

    /// May this caller see where a place is (address, coordinates)? The one rule, [`Actor::sees_place`].
    pub fn sees_place(&self, confidential: bool, owner: Option<Uuid>) -> bool {
        self.actor().sees_place(confidential, owner)
    }
}

/// Resolves the bearer key into a [`Caller`] stored in the request's extensions.
pub struct Authenticate(pub Arc<AppState>);

impl<E: Endpoint> Middleware<E> for Authenticate {
    type Output = AuthenticateEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AuthenticateEndpoint {
            inner,
            state: self.0.clone(),
        }
    }
}

pub struct AuthenticateEndpoint<E> {
    inner: E,
    state: Arc<AppState>,
}

impl<E: Endpoint> Endpoint for AuthenticateEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        use poem::IntoResponse;
        let header = req.headers().get(poem::http::header::AUTHORIZATION).cloned();
        let caller = match header {
            None => Caller::ANONYMOUS,
            Some(value) => {
                let secret = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                    .map(str::trim);
                let Some(secret) = secret else {
                    return Ok(unauthorized("the Authorization header must be `Bearer <key>`"));
                };
                match self.state.store.authenticate(secret).await {
                    Ok(Some(holder)) => Caller {
                        key_id: Some(holder.key_id),
                        person_id: None,
                        role: Some(holder.role),
                        organization_id: holder.organization_id,
                        team: None,
                    },
                    Ok(None) => return Ok(unauthorized("unknown or revoked API key")),
                    Err(error) => return Ok(crate::problem::ProblemResponse::from(error).into_response()),
                }
            }
        };
        if let Some(facts) = req.extensions().get::<crate::request_log::RequestFacts>() {
            facts.set_role(caller.role_name());
        }
        req.extensions_mut().insert(caller);
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut response = problem_response(StatusCode::UNAUTHORIZED, detail.into());
    response.headers_mut().insert(
        poem::http::header::WWW_AUTHENTICATE,
        poem::http::HeaderValue::from_static("Bearer"),
    );
    response
}

/// Bearer API key (`bb_...`), created with `brobygger keys create`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "resolved_caller")]
pub struct ApiKey(Caller);

async fn resolved_caller(req: &Request, _bearer: Bearer) -> Option<Caller> {
    req.extensions().get::<Caller>().cloned()
}

/// An API key, or none: anonymous callers may read the public directory.
#[derive(SecurityScheme)]
pub enum Auth {
    Key(ApiKey),
    #[oai(fallback)]
    Anonymous,
}

impl Auth {
    pub fn caller(&self) -> Caller {
        match self {
            Auth::Key(ApiKey(caller)) => caller.clone(),
            Auth::Anonymous => Caller::ANONYMOUS,
        }
    }
}
