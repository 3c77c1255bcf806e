//! The HSDS fields of imported records that Brobygger does not map to its own: physical accessibility of a
//! place, required documents, funding, programs, alternate names, `x_` extensions and the like. They are kept
//! per record as the JSON they came in, so that /hsds exports what was imported, and are replaced by the next
//! import of the record. Writes through /v1 and the web app leave them alone: they carry Brobygger's own fields.
//! They are public like the rest of the directory, so a CPR number in them is refused.

use std::collections::HashMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::cpr::contains_cpr;
use crate::directory::CPR_IN_PUBLIC_TEXT;
use crate::error::{FieldError, Result};
use crate::store::Store;
use crate::tables::hsds_extra;

/// A record's unmapped HSDS fields, by key.
pub type Extra = Map<String, Value>;

/// At most this much JSON per record.
pub const MAX_EXTRA_BYTES: usize = 64 * 1024;

/// The kinds of record with extras, as `hsds_extra.entity` names them.
pub const ORGANIZATION: &str = "organization";
pub const LOCATION: &str = "location";
pub const SERVICE: &str = "service";

/// Top-level keys the import maps itself, or that hold records of their own (nested services, locations):
/// every other key of a record is kept.
const MAPPED: &[(&str, &[&str])] = &[
    (
        ORGANIZATION,
        &[
            "id",
            "name",
            "description",
            "x_kind",
            "x_cvr",
            "email",
            "website",
            "phones",
            "services",
            "locations",
        ],
    ),
    (
        LOCATION,
        &[
            "id",
            "organization_id",
            "name",
            "latitude",
            "longitude",
            "addresses",
            "attributes",
            "location_type",
        ],
    ),
    (
        SERVICE,
        &[
            "id",
            "organization_id",
            "organization",
            "name",
            "description",
            "status",
            "url",
            "email",
            "application_process",
            "fees_description",
            "eligibility_description",
            "minimum_age",
            "maximum_age",
            "assured_date",
            "phones",
            "schedules",
            "service_areas",
            "service_at_locations",
            "attributes",
            "cost_options",
            "languages",
            "last_modified",
        ],
    ),
];

/// The fields of `record` (an HSDS object of kind `entity`) that the import does not map, checked: a CPR
/// number in any text of them, or more than [`MAX_EXTRA_BYTES`], is an error at `path`.
pub fn extra_of(entity: &str, record: &Value, path: &str, errors: &mut Vec<FieldError>) -> Extra {
    let mapped = MAPPED
        .iter()
        .find(|(kind, _)| *kind == entity)
        .map_or(&[][..], |(_, keys)| *keys);
    let Some(object) = record.as_object() else {
        return Extra::new();
    };
    let extra: Extra = object
        .iter()
        .filter(|(key, value)| !mapped.contains(&key.as_str()) && !value.is_null())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    for (key, value) in &extra {
        if let Some(at) = cpr_in(value, &format!("{path}/{key}")) {
            errors.push(FieldError::new(at, CPR_IN_PUBLIC_TEXT));
        }
    }
    if serde_json::to_string(&extra).map_or(0, |s| s.len()) > MAX_EXTRA_BYTES {
        errors.push(FieldError::new(
            path,
            format!(
                "the fields Brobygger keeps as given are over {} KiB",
                MAX_EXTRA_BYTES / 1024
            ),
        ));
    }
    extra
}

/// The path of the first text in `value` that holds a CPR number.
fn cpr_in(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(text) => contains_cpr(text).then(|| path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| cpr_in(v, &format!("{path}/{i}"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| cpr_in(v, &format!("{path}/{k}"))),
        _ => None,
    }
}

/// Stores the extras of imported records, writing only those that changed; an empty one removes the row.
pub(crate) async fn save_extras(txn: &impl ConnectionTrait, entity: &str, records: &[(Uuid, &Extra)]) -> Result<()> {
    let ids: Vec<Uuid> = records.iter().map(|(id, _)| *id).collect();
    let stored = load(txn, entity, &ids).await?;
    let mut changed = Vec::new();
    let mut emptied = Vec::new();
    for (id, extra) in records {
        if stored.get(id).unwrap_or(&Extra::new()) == *extra {
            continue;
        }
        if extra.is_empty() {
            emptied.push(*id);
        } else {
            changed.push(hsds_extra::ActiveModel {
                entity: Set(entity.to_owned()),
                record_id: Set(*id),
                document: Set(Value::Object((*extra).clone()).to_string()),
            });
        }
    }
    if !emptied.is_empty() {
        hsds_extra::Entity::delete_many()
            .filter(hsds_extra::Column::Entity.eq(entity))
            .filter(hsds_extra::Column::RecordId.is_in(emptied))
            .exec(txn)
            .await?;
    }
    // Chunked: SQLite limits the number of bound parameters.
    for chunk in changed.chunks(500) {
        hsds_extra::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([hsds_extra::Column::Entity, hsds_extra::Column::RecordId])
                    .update_column(hsds_extra::Column::Document)
                    .to_owned(),
            )
            .exec(txn)
            .await?;
    }
    Ok(())
}

async fn load(db: &impl ConnectionTrait, entity: &str, ids: &[Uuid]) -> Result<HashMap<Uuid, Extra>> {
    let mut extras = HashMap::new();
    for chunk in ids.chunks(500) {
        for row in hsds_extra::Entity::find()
            .filter(hsds_extra::Column::Entity.eq(entity))
            .filter(hsds_extra::Column::RecordId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            let document = crate::store::stored(
                |text| serde_json::from_str::<Extra>(text).ok(),
                "hsds_extra",
                row.record_id,
                "document",
                &row.document,
            )?;
            extras.insert(row.record_id, document);
        }
    }
    Ok(extras)
}

impl Store {
    /// The kept HSDS fields of records of kind `entity`, by id (records without any are left out).
    pub async fn hsds_extras(&self, entity: &str, ids: &[Uuid]) -> Result<HashMap<Uuid, Extra>> {
        load(self.connection(), entity, ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_fields_are_kept_and_checked_for_cpr_numbers() {
        let record = serde_json::json!({
            "id": "x", "name": "Beboerhuset", "latitude": 56.1,
            "accessibility": [{"description": "Niveaufri adgang og teleslynge"}],
            "x_opgang": "B", "transportation": null,
            "alternate_name": "Kontakt 010190-1234"
        });
        let mut errors = Vec::new();
        let extra = extra_of(LOCATION, &record, "/0", &mut errors);
        let keys: Vec<&str> = extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["accessibility", "alternate_name", "x_opgang"]);
        assert_eq!(errors, [FieldError::new("/0/alternate_name", CPR_IN_PUBLIC_TEXT)]);
    }
}
