mod common;

use common::*;

#[test]
fn danish_compound_prefix_finds_compound() {
    let index = index();
    assert_eq!(ids(&index, &text("lektie"))[..2].len(), 2);
    let hits = ids(&index, &text("lektie"));
    assert!(hits.contains(&LEKTIE), "{hits:?}");
    assert!(hits.contains(&CAFE), "lektiecafé is split too: {hits:?}");
    let hits = ids(&index, &text("gæld"));
    assert_eq!(hits.first(), Some(&DEBT), "{hits:?}");
}

#[test]
fn danish_stemming_and_stop_words() {
    let index = index();
    // "lektier" (plural) and "hjælper" → stems shared with the documents
    assert!(ids(&index, &text("lektier")).contains(&LEKTIE));
    assert!(ids(&index, &text("hjælp")).contains(&LEKTIE));
    // stop words are not searched: "lektier og" == "lektier", and a query of stop words only
    // is the same as no text
    assert_eq!(ids(&index, &text("lektier og i på")), ids(&index, &text("lektier")));
    let r = index.search(&text("og i på")).unwrap();
    assert_eq!(r.total, docs().len());
}

#[test]
fn aarhus_spellings_are_equal() {
    let index = index();
    let expected = sorted(vec![DEBT, SPORT]); // "Århus" and "Aarhus V"
    for spelling in ["Arhus", "Aarhus", "Århus", "ÅRHUS", "aarhus"] {
        assert_eq!(sorted(ids(&index, &text(spelling))), expected, "{spelling}");
    }
}

#[test]
fn exact_unsplit_match_ranks_first() {
    let index = index();
    let hits = ids(&index, &text("gældsrådgivning"));
    assert_eq!(hits.first(), Some(&DEBT), "{hits:?}");
}

#[test]
fn english_stemming() {
    let index = index();
    // "helping" → "help", "job" → "jobs"
    assert_eq!(ids(&index, &text("helping")), vec![JOBS]);
    assert!(ids(&index, &text("job")).contains(&JOBS));
}

#[test]
fn typo_tolerance() {
    let index = index();
    let hits = ids(&index, &text("gældsrådgivnig"));
    assert_eq!(hits.first(), Some(&DEBT), "{hits:?}");
    // short words get no typo tolerance
    assert!(ids(&index, &text("gæle")).is_empty());
}

#[test]
fn typo_match_never_outranks_exact_match() {
    let index = index();
    // SPORT has "sport" in its description, SPURT has "spurt" (one edit) in its name
    let r = index.search(&text("sport")).unwrap();
    let hits: Vec<u128> = r.hits.iter().map(|h| h.id.as_u128()).collect();
    let exact = hits.iter().position(|h| *h == SPORT).expect("exact hit");
    let fuzzy = hits.iter().position(|h| *h == SPURT).expect("typo hit");
    assert!(exact < fuzzy, "{hits:?}");
    assert!(r.hits[exact].score > r.hits[fuzzy].score);
}

#[test]
fn need_synonyms_cross_languages() {
    let index = index();
    let r = index.search(&text("homework help")).unwrap();
    let hits: Vec<u128> = r.hits.iter().map(|h| h.id.as_u128()).collect();
    assert!(hits.contains(&CAFE), "{hits:?}");
    assert!(hits.contains(&LEKTIE), "sub-term matches parent: {hits:?}");
    let cafe = r.hits.iter().find(|h| h.id.as_u128() == CAFE).unwrap();
    assert_eq!(cafe.why.needs, vec!["education-homework".to_string()]);

    let hits = ids(&index, &text("debt advice"));
    assert_eq!(hits.first(), Some(&DEBT), "{hits:?}");
    let r = index.search(&text("debt advice")).unwrap();
    assert_eq!(r.hits[0].why.needs, vec!["debt-economy".to_string()]);
}

#[test]
fn free_text_is_never_query_syntax() {
    let index = index();
    for t in [
        "\"((:",
        "AND OR NOT",
        "*",
        "",
        "   ",
        "name:foo",
        "lektie AND",
        "-gæld +[1 TO 5]",
        "\\",
        "~~~ ^2",
        "a".repeat(300).as_str(),
    ] {
        let r = index.search(&text(t));
        assert!(r.is_ok(), "{t:?}: {r:?}");
    }
    // an empty / punctuation-only text is the same as no text
    assert_eq!(index.search(&text("")).unwrap().total, docs().len());
    assert_eq!(index.search(&text("((:")).unwrap().total, docs().len());
    // syntax characters around words are ignored
    assert!(ids(&index, &text("(gæld)*")).contains(&DEBT));
}

#[test]
fn highlight_and_matched_terms() {
    let index = index();
    let r = index.search(&text("lektier tirsdag")).unwrap();
    let hit = r.hits.iter().find(|h| h.id.as_u128() == LEKTIE).expect("hit");
    let highlight = hit.highlight.as_deref().expect("highlight");
    assert!(highlight.contains("<mark>lektier</mark>"), "{highlight}");
    assert!(highlight.contains("<mark>tirsdag</mark>"), "{highlight}");
    assert_eq!(hit.why.matched_terms, vec!["lektier", "tirsdag"]);

    // typo matches are reported as matched terms too
    let r = index.search(&text("gældsrådgivnig")).unwrap();
    assert_eq!(r.hits[0].why.matched_terms, vec!["gældsrådgivnig"]);

    // no text → no highlight
    let r = index.search(&q()).unwrap();
    assert!(r.hits.iter().all(|h| h.highlight.is_none()));
}

#[test]
fn hits_carry_their_payload() {
    let index = index();
    let results = index.search(&text("gæld")).unwrap();
    let hit = results
        .hits
        .iter()
        .find(|h| h.id == id(DEBT))
        .expect("the debt service");
    assert_eq!(hit.payload, format!("payload {DEBT}"));
}
