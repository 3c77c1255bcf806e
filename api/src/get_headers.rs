//! What every API GET answer carries: an `ETag` (a record's version, or a digest of the document) with
//! `If-None-Match` → 304, and on a page of a list `X-Total-Count` and RFC 8288 `Link` (first, prev, next,
//! last). Streams (`format=ndjson`) are left alone: they are not held in memory to be digested.

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use sha2::Digest;

pub async fn get_headers<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    if !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let uri = req.uri().clone();
    let response = next.call(req).await?.into_response();
    if response.status() != StatusCode::OK {
        return Ok(response);
    }
    let content_type = response.content_type().unwrap_or_default().to_owned();
    let is_document = content_type.starts_with("application/json") || content_type.starts_with("text/csv");
    if !is_document {
        // A stream is not held in memory to be digested: only an ETag of its own can answer 304.
        let current = response.headers().get(header::ETAG).cloned();
        return Ok(match current {
            Some(etag) if if_none_match.is_some_and(|wanted| matches(&wanted, &etag)) => not_modified(etag),
            _ => response,
        });
    }
    let (mut parts, body) = response.into_parts();
    let bytes = body.into_bytes().await?;
    let etag = match parts.headers.get(header::ETAG) {
        Some(etag) => etag.clone(),
        None => {
            let digest = sha2::Sha256::digest(&bytes);
            let etag = format!("W/\"{}\"", hex::encode(&digest[..12]));
            let etag = HeaderValue::from_str(&etag).expect("hex is a valid header value");
            parts.headers.insert(header::ETAG, etag.clone());
            etag
        }
    };
    if if_none_match.is_some_and(|wanted| matches(&wanted, &etag)) {
        return Ok(not_modified(etag));
    }
    if content_type.starts_with("application/json")
        && let Ok(document) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(page) = Page::of(&document)
    {
        parts.headers.insert("x-total-count", HeaderValue::from(page.total));
        if let Ok(link) = HeaderValue::from_str(&page.links(uri.path(), uri.query().unwrap_or_default())) {
            parts.headers.insert(header::LINK, link);
        }
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn not_modified(etag: HeaderValue) -> Response {
    let mut response = Response::builder().status(StatusCode::NOT_MODIFIED).finish();
    response.headers_mut().insert(header::ETAG, etag);
    response
}

/// RFC 9110 weak comparison of `If-None-Match` (a list, or `*`) with the current `etag`.
fn matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(wanted) = if_none_match.to_str() else {
        return false;
    };
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current = bare(etag.to_str().unwrap_or_default());
    wanted.split(',').any(|tag| tag.trim() == "*" || bare(tag) == current)
}

/// Where a page sits in its list: ours (`total`, `page`, `per_page`) or HSDS's (`total_items`, `page_number`,
/// `total_pages`).
#[derive(Debug, PartialEq)]
struct Page {
    total: u64,
    number: u64,
    last: u64,
}

impl Page {
    fn of(document: &serde_json::Value) -> Option<Page> {
        let field = |name: &str| document.get(name).and_then(serde_json::Value::as_u64);
        if let (Some(total), Some(number), Some(per_page)) = (field("total"), field("page"), field("per_page")) {
            let last = total.div_ceil(per_page.max(1)).max(1);
            return Some(Page { total, number, last });
        }
        if let (Some(total), Some(number), Some(pages)) =
            (field("total_items"), field("page_number"), field("total_pages"))
        {
            return Some(Page {
                total,
                number,
                last: pages.max(1),
            });
        }
        None
    }

    /// `Link` with first, prev (when not first), next (when not last) and last, keeping the other parameters.
    fn links(&self, path: &str, query: &str) -> String {
        let mut others: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        others.retain(|(name, _)| name != "page");
        let url = |page: u64| {
            let mut parameters = others.clone();
            parameters.push(("page".into(), page.to_string()));
            let query = serde_urlencoded::to_string(&parameters).unwrap_or_default();
            format!("<{path}?{query}>")
        };
        let mut links = vec![format!("{}; rel=\"first\"", url(1))];
        if self.number > 1 {
            links.push(format!("{}; rel=\"prev\"", url((self.number - 1).min(self.last))));
        }
        if self.number < self.last {
            links.push(format!("{}; rel=\"next\"", url(self.number + 1)));
        }
        links.push(format!("{}; rel=\"last\"", url(self.last)));
        links.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_count_pages_from_the_total_and_keep_other_parameters() {
        let page = Page::of(&serde_json::json!({"total": 45, "page": 2, "per_page": 20})).expect("a page");
        assert_eq!(
            page.links("/v1/services", "q=lektier&page=2&per_page=20"),
            "</v1/services?q=lektier&per_page=20&page=1>; rel=\"first\", \
             </v1/services?q=lektier&per_page=20&page=1>; rel=\"prev\", \
             </v1/services?q=lektier&per_page=20&page=3>; rel=\"next\", \
             </v1/services?q=lektier&per_page=20&page=3>; rel=\"last\""
        );
        let only =
            Page::of(&serde_json::json!({"total_items": 0, "page_number": 1, "total_pages": 0})).expect("a page");
        assert_eq!(
            only.links("/hsds/services", ""),
            "</hsds/services?page=1>; rel=\"first\", </hsds/services?page=1>; rel=\"last\""
        );
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        let etag = HeaderValue::from_static("W/\"abc\"");
        assert!(matches(&HeaderValue::from_static("\"abc\""), &etag));
        assert!(matches(&HeaderValue::from_static("\"x\", W/\"abc\""), &etag));
        assert!(matches(&HeaderValue::from_static("*"), &etag));
        assert!(!matches(&HeaderValue::from_static("\"abd\""), &etag));
    }
}
