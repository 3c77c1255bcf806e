//! API keys for apps (`/admin/keys`): every key with its role, organization, label and state; a new key's
//! secret is shown once; a revoked key answers 401 from its next request on, on every server, because each
//! request looks its key up (`Store::authenticate` only finds keys not revoked).

use std::collections::HashMap;
use std::sync::Arc;

use entities::directory::Role;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use super::organizations::{KeyRow, key_row};
use super::{admin, no_store, parse_id};
use crate::problem::ApiError;
use crate::state::AppState;
use crate::web::Fields;
use crate::web::i18n::text;
use crate::web::login::local_path;
use crate::web::render::{api_error_page, page, page_with_status};
use crate::web::search::{Choice, FieldProblem};
use crate::web::visitor::Visitor;

#[derive(Serialize, Default)]
struct KeyForm {
    role: String,
    organization_id: String,
    label: String,
}

#[derive(Serialize)]
struct KeysView {
    keys: Vec<KeyRow>,
    form: KeyForm,
    role_choices: Vec<Choice>,
    errors: Vec<FieldProblem>,
    revoked_now: bool,
}

async fn keys_view(
    state: &AppState,
    visitor: &Visitor,
    form: KeyForm,
    errors: Vec<FieldProblem>,
) -> Result<KeysView, ApiError> {
    let keys = state.store.list_keys(None).await?;
    let ids: Vec<Uuid> = keys.iter().filter_map(|k| k.organization_id).collect();
    let names: HashMap<Uuid, entities::directory::Organization> = state.store.organizations_by_id(&ids).await?;
    Ok(KeysView {
        keys: keys.into_iter().map(|k| key_row(k, &names)).collect(),
        role_choices: Role::ALL
            .iter()
            .map(|r| Choice {
                value: r.as_str().to_owned(),
                label: text(visitor.lang, &format!("admin_role_{}", r.as_str())),
                selected: form.role == r.as_str(),
            })
            .collect(),
        form,
        errors,
        revoked_now: false,
    })
}

#[handler]
pub async fn keys_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let form = KeyForm {
        role: Role::Reader.as_str().into(),
        ..Default::default()
    };
    match keys_view(state, visitor, form, Vec::new()).await {
        Ok(mut view) => {
            view.revoked_now = query.has("revoked");
            page(visitor, "admin_keys.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[derive(Serialize)]
struct KeyCreatedView {
    id: Uuid,
    role: String,
    organization_id: Option<Uuid>,
    label: Option<String>,
    secret: String,
}

/// Creates a key and shows its secret once (this response is the only place it is ever written).
#[handler]
pub async fn create_key(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(fields): Form<Fields>) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let lang = visitor.lang;
    let form = KeyForm {
        role: fields.get("role").unwrap_or_default().to_owned(),
        organization_id: fields.get("organization_id").unwrap_or_default().to_owned(),
        label: fields.get("label").unwrap_or_default().to_owned(),
    };
    let mut errors = Vec::new();
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.push(FieldProblem {
            field: "role".into(),
            message: text(lang, "admin_error_key_role"),
        });
    }
    let organization_id = match form.organization_id.as_str() {
        "" => None,
        id => match Uuid::parse_str(id) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldProblem {
                    field: "organization_id".into(),
                    message: text(lang, "admin_error_key_organization"),
                });
                None
            }
        },
    };
    if let (true, Some(role)) = (errors.is_empty(), role) {
        let label = Some(form.label.clone()).filter(|l| !l.is_empty());
        match state.store.create_key(role, organization_id, label.clone()).await {
            Ok((id, secret)) => {
                tracing::info!(key = %id, role = %role, "key created in the web app");
                return no_store(page(
                    visitor,
                    "admin_key_created.html",
                    KeyCreatedView {
                        id,
                        role: text(lang, &format!("admin_role_{}", role.as_str())),
                        organization_id,
                        label,
                        secret,
                    },
                ));
            }
            Err(entities::Error::Invalid(_)) => errors.push(FieldProblem {
                field: "organization_id".into(),
                message: text(lang, "admin_error_key_organization"),
            }),
            Err(error) => return api_error_page(state, visitor, error.into()),
        }
    }
    match keys_view(state, visitor, form, errors).await {
        Ok(view) => page_with_status(visitor, StatusCode::UNPROCESSABLE_ENTITY, "admin_keys.html", view),
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[handler]
pub async fn revoke_key(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let Some(id) = parse_id(&id) else {
        return api_error_page(state, visitor, ApiError::NotFound("not found".into()));
    };
    match state.store.revoke_key(id).await {
        Ok(key) => {
            tracing::info!(key = %key.id, "key revoked in the web app");
            let back = local_path(fields.get("back").or(Some("/admin/keys")));
            let join = if back.contains('?') { '&' } else { '?' };
            Redirect::see_other(format!("{back}{join}revoked=1")).into_response()
        }
        Err(error) => api_error_page(state, visitor, error.into()),
    }
}
