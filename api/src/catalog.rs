//! Reference data and feeds: the needs taxonomy, the gazetteer and the change feed.

use std::sync::Arc;

use entities::taxonomy::NeedTerm;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Tags)]
pub enum CatalogTag {
    /// The needs taxonomy, places and the change feed.
    Reference,
}

#[derive(Clone, Debug, Object)]
pub struct LocalizedText {
    pub da: String,
    pub en: String,
}

#[derive(Clone, Debug, Object)]
pub struct NeedSynonyms {
    pub da: Vec<String>,
    pub en: Vec<String>,
}

/// A need code with its labels and synonyms in Danish and English.
#[derive(Clone, Debug, Object)]
pub struct Need {
    pub code: String,
    pub label: LocalizedText,
    pub description: Option<LocalizedText>,
    pub synonyms: NeedSynonyms,
    pub children: Vec<Need>,
}

#[derive(Clone, Debug, Object)]
pub struct NeedList {
    pub items: Vec<Need>,
}

impl From<&NeedTerm> for Need {
    fn from(term: &NeedTerm) -> Self {
        Need {
            code: term.code.clone(),
            label: LocalizedText {
                da: term.label.da.clone(),
                en: term.label.en.clone(),
            },
            description: term.description.as_ref().map(|d| LocalizedText {
                da: d.da.clone(),
                en: d.en.clone(),
            }),
            synonyms: NeedSynonyms {
                da: term.synonyms.da.clone(),
                en: term.synonyms.en.clone(),
            },
            children: term.children.iter().map(Need::from).collect(),
        }
    }
}

/// A place from the gazetteer.
#[derive(Clone, Debug, Object)]
pub struct Place {
    pub name: String,
    /// `neighbourhood`, `postcode` or `town`.
    pub kind: String,
    pub postcode: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Clone, Debug, Object)]
pub struct PlaceList {
    pub items: Vec<Place>,
}

/// One write to the directory. `delete` is a soft delete (the record is now inactive): a tombstone.
#[derive(Clone, Debug, Object)]
pub struct ChangeEntry {
    pub seq: i64,
    /// `organization`, `location` or `service`.
    pub entity: String,
    pub id: uuid::Uuid,
    /// `create`, `update` or `delete`.
    pub operation: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, Object)]
pub struct ChangeFeed {
    pub items: Vec<ChangeEntry>,
    /// Pass as `after` to continue; equals `after` when there is nothing new yet.
    pub next: i64,
}

pub struct CatalogApi {
    pub state: Arc<AppState>,
}

#[OpenApi(prefix_path = "/v1")]
impl CatalogApi {
    /// The needs taxonomy
    #[oai(path = "/needs", method = "get", tag = "CatalogTag::Reference")]
    async fn needs(&self) -> ApiResult<Json<NeedList>> {
        Ok(Json(NeedList {
            items: self.state.taxonomy.items.iter().map(Need::from).collect(),
        }))
    }

    /// Find places by name or postcode
    ///
    /// Case- and spelling-insensitive ("Arhus", "aarhus" and "Århus" are one place); best match first.
    #[oai(path = "/places", method = "get", tag = "CatalogTag::Reference")]
    async fn places(&self, q: Query<String>, limit: Query<Option<u32>>) -> ApiResult<Json<PlaceList>> {
        if q.0.chars().count() > 100 {
            return Err(ApiError::BadRequest("q must be at most 100 characters".into()).into());
        }
        let limit = limit.0.unwrap_or(10).clamp(1, 100) as usize;
        Ok(Json(PlaceList {
            items: self
                .state
                .gazetteer
                .lookup(&q.0, limit)
                .into_iter()
                .map(|p| Place {
                    name: p.name.clone(),
                    kind: p.kind.clone(),
                    postcode: p.postcode.clone(),
                    latitude: p.latitude,
                    longitude: p.longitude,
                })
                .collect(),
        }))
    }

    /// Follow every write to the directory
    ///
    /// Ordered by `seq`; resume with `after=<next>`. Soft deletes appear as `delete` operations, so a mirror
    /// can follow the directory exactly.
    #[oai(path = "/changes", method = "get", tag = "CatalogTag::Reference")]
    async fn changes(&self, after: Query<Option<i64>>, limit: Query<Option<u64>>) -> ApiResult<Json<ChangeFeed>> {
        let after = after.0.unwrap_or(0);
        let limit = limit.0.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::BadRequest("limit must be between 1 and 1000".into()).into());
        }
        let items: Vec<ChangeEntry> = self
            .state
            .store
            .changes_after(after, limit)
            .await?
            .into_iter()
            .map(|c| ChangeEntry {
                seq: c.seq,
                entity: c.entity,
                id: c.id,
                operation: c.operation,
                at: c.at,
            })
            .collect();
        let next = items.last().map_or(after, |c| c.seq);
        Ok(Json(ChangeFeed { items, next }))
    }
}
