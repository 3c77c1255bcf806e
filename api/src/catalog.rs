//! Reference data and feeds: the needs taxonomy, the gazetteer and the change feed.

use std::sync::Arc;

use entities::taxonomy::NeedTerm;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};

use crate::problem::ApiResult;
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
}
