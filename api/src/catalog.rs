//! Reference data and feeds: the needs taxonomy, the gazetteer and the change feed.

use std::sync::Arc;

use entities::taxonomy::NeedTerm;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi, Tags};

use crate::problem::{ApiError, ApiResult};
use crate::search::MAX_QUERY_CHARS;
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

/// Language of a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum TextLanguage {
    Da,
    En,
}

/// A text to find needs in.
#[derive(Clone, Debug, Object)]
pub struct DetectRequest {
    /// The family's own words, Danish or English (at most 500 characters).
    #[oai(validator(max_length = 500))]
    pub text: String,
    /// Read the text as this language only. Without it the text's small words ("jeg", "og"; "my", "the") decide,
    /// and a few words without them ("gæld", "lonely") are read as both.
    pub language: Option<TextLanguage>,
}

/// A need found in a text.
#[derive(Clone, Debug, Object)]
pub struct DetectedNeed {
    /// Top-level need code (see `/v1/needs`).
    pub code: String,
    pub label: LocalizedText,
    /// 0..1; more and longer matching words score higher.
    pub score: f64,
    /// The words of the text that point to this need, as written.
    pub matched: Vec<String>,
    /// Sub-terms of the need (its `children` in `/v1/needs`) that the words point to, surest first.
    pub sub_codes: Vec<String>,
}

#[derive(Clone, Debug, Object)]
pub struct DetectedNeedList {
    /// Surest first; empty when the text names no need.
    pub items: Vec<DetectedNeed>,
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
    #[oai(
        path = "/needs",
        method = "get",
        tag = "CatalogTag::Reference",
        operation_id = "listNeeds"
    )]
    async fn needs(&self) -> ApiResult<Json<NeedList>> {
        Ok(Json(NeedList {
            items: self.state.taxonomy.items.iter().map(Need::from).collect(),
        }))
    }

    /// Detect needs in a family's own words
    ///
    /// Which needs of the taxonomy a text names: "min mand slår mig" → `domestic-violence`, "hun vil gerne lære
    /// dansk og har brug for hjælp til regninger" → `language-danish` and `debt-economy`. Words are matched in
    /// any inflection, in Danish compounds and without æ/ø/å; a negation cancels them ("han har ikke problemer
    /// med gæld" names no need), except for what a family can lack ("ingen venner", "no job"). The lexicon is
    /// `seed-data/need-lexicon.json`.
    #[oai(
        path = "/needs/detect",
        method = "post",
        tag = "CatalogTag::Reference",
        operation_id = "detectNeeds"
    )]
    async fn detect_needs(&self, body: Json<DetectRequest>) -> ApiResult<Json<DetectedNeedList>> {
        let request = body.0;
        if request.text.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::BadRequest(format!("text must be at most {MAX_QUERY_CHARS} characters")).into());
        }
        let language = request.language.map(|l| match l {
            TextLanguage::Da => indexer::Lang::Da,
            TextLanguage::En => indexer::Lang::En,
        });
        let items = self
            .state
            .detector
            .detect(&request.text, language)
            .into_iter()
            .filter_map(|need| {
                let term = self.state.taxonomy.find(&need.code)?;
                Some(DetectedNeed {
                    label: LocalizedText {
                        da: term.label.da.clone(),
                        en: term.label.en.clone(),
                    },
                    code: need.code,
                    score: need.score,
                    matched: need.matched,
                    sub_codes: need.sub_codes,
                })
            })
            .collect();
        Ok(Json(DetectedNeedList { items }))
    }

    /// Find places by name or postcode
    ///
    /// Case- and spelling-insensitive ("Arhus", "aarhus" and "Århus" are one place); best match first.
    #[oai(
        path = "/places",
        method = "get",
        tag = "CatalogTag::Reference",
        operation_id = "findPlaces"
    )]
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
    #[oai(
        path = "/changes",
        method = "get",
        tag = "CatalogTag::Reference",
        operation_id = "listChanges"
    )]
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
