//! The OpenAPI document as generated clients read it.
//!
//! poem-openapi writes OpenAPI 3.0 from the code, which cannot say that a field may be `null` and wraps every
//! described reference in `allOf`; client generators then drop models or crash on real responses. `finish`
//! turns that document into OpenAPI 3.1 that says what the server does: an optional field without a default is
//! `Option` in the code and so may be `null`; references stand alone; merge-patch bodies, the `/hsds` documents
//! and the statuses answered by middleware (304, 415, 429) are typed. The same document is committed in
//! `openapi/openapi.json`, served at `/openapi.json` and shown at `/docs`, and request bodies are checked
//! against it (`check_body`): a value of another JSON type is 400, never coerced.

use serde_json::{Map, Value, json};

/// The finished OpenAPI 3.1 document for poem-openapi's `raw` 3.0 document.
pub fn finish(raw: &str) -> Value {
    let mut doc: Value = serde_json::from_str(raw).expect("poem-openapi writes valid JSON");
    doc["openapi"] = json!("3.1.0");
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for schema in schemas.values_mut() {
            declare_nulls(schema);
        }
        schemas.extend(hsds_schemas());
    }
    // A problem's `errors` is left out unless there are some: a default would make generators assume it.
    if let Some(errors) = doc
        .pointer_mut("/components/schemas/Problem/properties/errors")
        .and_then(Value::as_object_mut)
    {
        errors.remove("default");
    }
    optional_list_parameters(&mut doc);
    type_merge_patches(&mut doc);
    type_hsds_responses(&mut doc);
    document_middleware_statuses(&mut doc);
    document_middleware_headers(&mut doc);
    doc
}

/// Marks each optional property without a default as nullable and unwraps `allOf: [{$ref}, {description}]`.
fn declare_nulls(schema: &mut Value) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        unwrap_all_of(property);
        if !required.contains(name) && property.get("default").is_none() {
            make_nullable(property);
        }
    }
}

/// `{"allOf": [{"$ref": r}, {extra}], ...}` → `{"$ref": r, ...}`: OpenAPI 3.1 allows keywords beside `$ref`.
fn unwrap_all_of(property: &mut Value) {
    let Some(object) = property.as_object_mut() else { return };
    let Some(Value::Array(parts)) = object.get("allOf") else {
        return;
    };
    let Some(reference) = parts.first().and_then(|p| p.get("$ref")).cloned() else {
        return;
    };
    if parts.iter().skip(1).any(|p| p.get("$ref").is_some()) {
        return;
    }
    let extras: Vec<Map<String, Value>> = parts.iter().skip(1).filter_map(|p| p.as_object().cloned()).collect();
    object.remove("allOf");
    for extra in extras {
        for (key, value) in extra {
            object.entry(key).or_insert(value);
        }
    }
    object.insert("$ref".into(), reference);
}

/// Lets `property` be `null` as well as what it was.
fn make_nullable(property: &mut Value) {
    let Some(object) = property.as_object_mut() else { return };
    if let Some(reference) = object.remove("$ref") {
        object.insert("anyOf".into(), json!([{ "$ref": reference }, { "type": "null" }]));
        return;
    }
    match object.get_mut("type") {
        Some(Value::String(kind)) => {
            let kind = std::mem::take(kind);
            object.insert("type".into(), json!([kind, "null"]));
        }
        Some(Value::Array(kinds)) if !kinds.contains(&json!("null")) => kinds.push(json!("null")),
        _ => return,
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.push(Value::Null);
    }
}

/// A repeatable query parameter (`need=a&need=b`) may be left out; poem-openapi marks it required.
fn optional_list_parameters(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|o| o.values_mut())
    {
        let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else {
            continue;
        };
        for parameter in parameters {
            if parameter.get("in") == Some(&json!("query"))
                && parameter.pointer("/schema/type") == Some(&json!("array"))
            {
                parameter["required"] = json!(false);
            }
        }
    }
}

/// PATCH bodies are RFC 7396 merge patches of the document PUT takes: every field optional, `null` clears it.
fn type_merge_patches(doc: &mut Value) {
    let Some(paths) = doc.get("paths").and_then(Value::as_object).cloned() else {
        return;
    };
    for (path, operations) in paths {
        let Some(put_schema) = operations
            .pointer("/put/requestBody/content")
            .and_then(Value::as_object)
            .and_then(|content| content.values().next())
            .and_then(|media| media.pointer("/schema/$ref"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        if operations.get("patch").is_none() {
            continue;
        }
        let name = put_schema.trim_start_matches("#/components/schemas/");
        let Some(mut patch) = doc.pointer(&format!("/components/schemas/{name}")).cloned() else {
            continue;
        };
        let patch_name = format!("{name}Patch");
        patch["title"] = json!(patch_name);
        patch["description"] = json!(format!(
            "A JSON merge patch (RFC 7396) of `{name}`: the fields given replace the current ones, `null` \
             clears a field, fields left out stay."
        ));
        if let Some(object) = patch.as_object_mut() {
            object.remove("required");
        }
        if let Some(properties) = patch.get_mut("properties").and_then(Value::as_object_mut) {
            for property in properties.values_mut() {
                if let Some(object) = property.as_object_mut() {
                    object.remove("default");
                }
                make_nullable(property);
            }
        }
        doc["components"]["schemas"][&patch_name] = patch;
        let schema = json!({ "$ref": format!("#/components/schemas/{patch_name}") });
        doc["paths"][&path]["patch"]["requestBody"]["content"] = json!({
            "application/merge-patch+json": { "schema": schema },
            "application/json": { "schema": schema },
        });
    }
}

/// The HSDS 3.0 documents `/hsds` answers with, as far as clients rely on them; every object may carry more
/// of the HSDS fields (`additionalProperties`), as the standard's own compiled schemas describe.
fn hsds_schemas() -> Map<String, Value> {
    let object = |description: &str, properties: Value, required: &[&str]| {
        json!({
            "type": "object",
            "description": description,
            "required": required,
            "properties": properties,
            "additionalProperties": true,
        })
    };
    let text = json!({ "type": ["string", "null"] });
    let id = json!({ "type": "string", "format": "uuid" });
    let mut schemas = Map::new();
    schemas.insert(
        "HsdsService".into(),
        object(
            "An HSDS 3.0 service (https://docs.openreferral.org/en/latest/hsds/schema_reference.html#service), \
             with its organization, locations, schedules, phones, languages and taxonomy terms nested.",
            json!({ "id": id, "name": { "type": "string" }, "description": text, "status": { "type": "string" },
                    "email": text, "url": text }),
            &["id", "name", "status"],
        ),
    );
    schemas.insert(
        "HsdsOrganization".into(),
        object(
            "An HSDS 3.0 organization, with its services nested.",
            json!({ "id": id, "name": { "type": "string" }, "description": text, "website": text, "email": text }),
            &["id", "name"],
        ),
    );
    schemas.insert(
        "HsdsServiceAtLocation".into(),
        object(
            "An HSDS 3.0 service at a location: the service and the location, nested.",
            json!({ "id": { "type": "string" }, "service_id": id, "location_id": id }),
            &["id"],
        ),
    );
    schemas.insert(
        "HsdsTaxonomy".into(),
        object(
            "An HSDS 3.0 taxonomy: Brobygger's needs taxonomy.",
            json!({ "id": id, "name": { "type": "string" }, "description": text, "uri": text, "version": text }),
            &["id", "name"],
        ),
    );
    schemas.insert(
        "HsdsTaxonomyTerm".into(),
        object(
            "An HSDS 3.0 taxonomy term: one need.",
            json!({ "id": id, "code": text, "name": { "type": "string" }, "description": text,
                    "parent_id": { "type": ["string", "null"] }, "taxonomy_id": { "type": ["string", "null"] } }),
            &["id", "name"],
        ),
    );
    schemas.insert(
        "HsdsAbout".into(),
        object(
            "What this HSDS API is: its version and profile.",
            json!({ "version": { "type": "string" }, "profile": text, "openapi_url": text }),
            &["version"],
        ),
    );
    schemas
}

/// The schema of an HSDS page of `item` (the standard's page envelope).
fn hsds_page(item: &str) -> Value {
    let count = json!({ "type": "integer", "minimum": 0 });
    json!({
        "type": "object",
        "required": ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty",
                     "contents"],
        "properties": {
            "total_items": count, "total_pages": count, "page_number": count, "size": count,
            "first_page": { "type": "boolean" }, "last_page": { "type": "boolean" }, "empty": { "type": "boolean" },
            "contents": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } },
        },
    })
}

fn type_hsds_responses(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, operations) in paths.iter_mut() {
        let Some(rest) = path.strip_prefix("/hsds") else {
            continue;
        };
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let item = match segments.first().copied() {
            None => "HsdsAbout",
            Some("services") => "HsdsService",
            Some("organizations") => "HsdsOrganization",
            Some("service_at_locations") => "HsdsServiceAtLocation",
            Some("taxonomies") => "HsdsTaxonomy",
            Some("taxonomy_terms") => "HsdsTaxonomyTerm",
            Some(_) => continue,
        };
        let schema = if segments.len() == 1 {
            hsds_page(item)
        } else {
            json!({ "$ref": format!("#/components/schemas/{item}") })
        };
        // Lists are `application/json` (beside ndjson), single records `application/json; charset=utf-8`.
        if let Some(content) = operations
            .pointer_mut("/get/responses/200/content")
            .and_then(Value::as_object_mut)
        {
            for (media_type, media) in content.iter_mut() {
                if media_type.starts_with("application/json") {
                    media["schema"] = schema.clone();
                }
            }
        }
    }
}

/// Whether `schema` (inline or referenced) is a page of a list: ours (`total`, `page`, `per_page`) or HSDS's.
fn is_page(doc: &Value, schema: &Value) -> bool {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => match reference.strip_prefix('#').and_then(|pointer| doc.pointer(pointer)) {
            Some(target) => target,
            None => return false,
        },
        None => schema,
    };
    let has = |name: &str| schema.pointer(&format!("/properties/{name}")).is_some();
    (has("total") && has("page") && has("per_page")) || (has("total_items") && has("page_number"))
}

/// Headers the answers carry whatever the operation: the request id, on GETs the `ETag`, on pages of a list
/// `X-Total-Count` and `Link`.
fn document_middleware_headers(doc: &mut Value) {
    let header = |description: &str, schema: Value| json!({ "description": description, "schema": schema });
    let snapshot = doc.clone();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operations in paths.values_mut() {
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let paged = method == "get"
                    && status == "200"
                    && response
                        .pointer("/content/application~1json; charset=utf-8/schema")
                        .or_else(|| response.pointer("/content/application~1json/schema"))
                        .is_some_and(|schema| is_page(&snapshot, schema));
                let Some(response) = response.as_object_mut() else {
                    continue;
                };
                let headers = response.entry("headers").or_insert_with(|| json!({}));
                headers["X-Request-Id"] = header(
                    "The request's id: the client's `X-Request-Id` when it sent a sane one, else a new one.",
                    json!({ "type": "string" }),
                );
                if method == "get" && status == "200" && headers.get("ETAG").is_none() {
                    headers["ETag"] = header(
                        "The version of the answer; send it as `If-None-Match` to get 304 while it is current.",
                        json!({ "type": "string" }),
                    );
                }
                if paged {
                    headers["X-Total-Count"] = header(
                        "How many items the whole list has.",
                        json!({ "type": "integer", "minimum": 0 }),
                    );
                    headers["Link"] = header(
                        "RFC 8288 links to the `first`, `prev`, `next` and `last` pages.",
                        json!({ "type": "string" }),
                    );
                }
            }
        }
    }
}

/// Statuses answered around the operations rather than by them: 304 to a GET whose `If-None-Match` names the
/// current `ETag`, 415 to a body of another media type, 429 past the rate limit.
fn document_middleware_statuses(doc: &mut Value) {
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operations in paths.values_mut() {
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            if method == "get" {
                responses.insert(
                    "304".into(),
                    json!({ "description": "Not modified: `If-None-Match` names the current `ETag`." }),
                );
            }
            let mut limited = problem("Too many requests from this key or client; retry after `Retry-After` seconds.");
            limited["headers"] = json!({
                "Retry-After": { "description": "Seconds until a request is allowed again.",
                                 "schema": { "type": "integer", "minimum": 0 } },
            });
            responses.insert("429".into(), limited);
            if operation.get("requestBody").is_some() {
                operation["responses"]["415"] = problem("The body is not of a media type this operation takes.");
            }
        }
    }
}

/// The operation for `method` at `path` in the finished document.
pub fn find_operation<'a>(doc: &'a Value, method: &str, path: &str) -> Option<&'a Value> {
    let (_, operations) = find_path(doc, path)?;
    operations.get(method.to_ascii_lowercase())
}

/// The path template of the finished document that `path` matches: `/v1/services/42` → `/v1/services/{id}`.
pub fn find_template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    find_path(doc, path).map(|(template, _)| template)
}

fn find_path<'a>(doc: &'a Value, path: &str) -> Option<(&'a str, &'a Value)> {
    let paths = doc.get("paths")?.as_object()?;
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    paths
        .iter()
        .filter(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        // A literal segment beats a parameter: `/v1/family-plans/due` before `/v1/family-plans/{id}`.
        .min_by_key(|(template, _)| template.matches('{').count())
        .map(|(template, operations)| (template.as_str(), operations))
}

/// Where `body` gives a value of another JSON type than the operation's request schema says, e.g. a number
/// where a string is expected (poem-openapi would coerce `0.0` to the string `"0.0"`): each such field's path
/// and the type expected there.
pub fn check_body(doc: &Value, operation: &Value, body: &Value) -> Vec<(String, String)> {
    let Some(schema) = operation
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
        .and_then(|content| content.values().next())
        .and_then(|media| media.get("schema"))
    else {
        return vec![];
    };
    let mut wrong = Vec::new();
    check_value(doc, schema, body, "", &mut wrong, 0);
    wrong
}

fn check_value(
    doc: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    wrong: &mut Vec<(String, String)>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        if let Some(target) = reference.strip_prefix('#').and_then(|pointer| doc.pointer(pointer)) {
            check_value(doc, target, value, path, wrong, depth + 1);
        }
        return;
    }
    if let Some(Value::Array(choices)) = schema.get("anyOf") {
        if value.is_null() && choices.iter().any(|c| c.get("type") == Some(&json!("null"))) {
            return;
        }
        if let Some(first) = choices.iter().find(|c| c.get("type") != Some(&json!("null"))) {
            check_value(doc, first, value, path, wrong, depth + 1);
        }
        return;
    }
    let kinds: Vec<&str> = match schema.get("type") {
        Some(Value::String(kind)) => vec![kind.as_str()],
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let fits = |kind: &str| match kind {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    };
    if !kinds.iter().any(|kind| fits(kind)) {
        let at = if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        wrong.push((at, kinds.join(" or ")));
        return;
    }
    match value {
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check_value(doc, item_schema, item, &format!("{path}/{index}"), wrong, depth + 1);
                }
            }
        }
        Value::Object(fields) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, field) in fields {
                    if let Some(field_schema) = properties.get(name) {
                        check_value(doc, field_schema, field, &format!("{path}/{name}"), wrong, depth + 1);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_references_become_nullable_without_all_of() {
        let raw = json!({
            "openapi": "3.0.0",
            "paths": {},
            "components": { "schemas": { "Hit": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": { "type": "string" },
                    "capacity": { "description": "room", "allOf": [{ "$ref": "#/components/schemas/Capacity" },
                                                                     { "description": "room" }] },
                    "status": { "default": "active", "allOf": [{ "$ref": "#/components/schemas/Status" },
                                                                { "default": "active" }] },
                    "max_age": { "type": "integer" },
                    "kind": { "type": "string", "enum": ["a", "b"] },
                },
            } } },
        });
        let doc = finish(&raw.to_string());
        let hit = &doc["components"]["schemas"]["Hit"]["properties"];
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(hit["id"], json!({ "type": "string" }));
        assert_eq!(
            hit["capacity"],
            json!({ "description": "room", "anyOf": [{ "$ref": "#/components/schemas/Capacity" },
                                                     { "type": "null" }] })
        );
        assert_eq!(
            hit["status"],
            json!({ "default": "active", "$ref": "#/components/schemas/Status" })
        );
        assert_eq!(hit["max_age"], json!({ "type": ["integer", "null"] }));
        assert_eq!(
            hit["kind"],
            json!({ "type": ["string", "null"], "enum": ["a", "b", null] })
        );
    }

    #[test]
    fn a_number_where_a_string_belongs_is_found_at_its_path() {
        let doc = json!({
            "paths": { "/v1/things/{id}": { "put": { "requestBody": { "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Thing" } } } } } } },
            "components": { "schemas": { "Thing": { "type": "object", "properties": {
                "name": { "type": "string" },
                "note": { "type": ["string", "null"] },
                "tags": { "type": "array", "items": { "type": "string" } },
            } } } },
        });
        let operation = find_operation(&doc, "PUT", "/v1/things/42").expect("matched");
        let body = json!({ "name": 0.0, "note": null, "tags": ["a", true] });
        let wrong = check_body(&doc, operation, &body);
        let paths: Vec<&str> = wrong.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, vec!["/name", "/tags/1"]);
        assert_eq!(wrong[0].1, "string");
        assert!(check_body(&doc, operation, &json!({ "name": "x", "note": "y" })).is_empty());
        assert!(find_operation(&doc, "PUT", "/v1/things").is_none());
        assert_eq!(find_template(&doc, "/v1/things/42"), Some("/v1/things/{id}"));
    }
}
