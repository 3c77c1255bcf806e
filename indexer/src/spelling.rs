//! Spelling correction of query words: a word the index does not know ("hjemmløs", "tolkebistnad") is read as the
//! word of the index one edit away (two for long words) that most services use ("hjemløs", "tolkebistand"), so
//! that it is stemmed, translated and read for needs like the word meant. The words as written are looked up in
//! the `words` field (lowercased, not stemmed or folded) with the edit-distance automata tantivy's own fuzzy query
//! uses.

use std::collections::HashMap;
use std::sync::OnceLock;

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::schema::Field;
use tantivy::{Searcher, Term};
use tantivy_fst::Automaton;

/// Words shorter than this are not corrected (too many words are one edit from a short word).
pub const CORRECT_MIN_CHARS: usize = 5;
/// Words this long may be two edits from the word meant.
const TWO_EDITS_MIN_CHARS: usize = 8;

struct Dfa(DFA);

impl Automaton for Dfa {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// Building an automaton builder precomputes tables; one per distance for the process.
fn builder(distance: u8) -> &'static LevenshteinAutomatonBuilder {
    static ONE: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    static TWO: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    let cell = if distance == 1 { &ONE } else { &TWO };
    cell.get_or_init(|| LevenshteinAutomatonBuilder::new(distance, true))
}

/// The word of `field` `distance` edits or fewer from `word` that is in most documents (ties: the first in
/// dictionary order), other than `word` itself.
fn nearest(searcher: &Searcher, field: Field, word: &str, distance: u8) -> tantivy::Result<Option<String>> {
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let mut stream = inverted
            .terms()
            .search(Dfa(builder(distance).build_dfa(word)))
            .into_stream()?;
        while stream.advance() {
            if stream.key() != word.as_bytes() {
                *counts.entry(stream.key().to_vec()).or_default() += u64::from(stream.value().doc_freq);
            }
        }
    }
    let best = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .and_then(|(key, _)| String::from_utf8(key).ok());
    Ok(best)
}

/// For each of `words` (lowercase, as written) that `known` says the index does not know: the word meant.
pub fn corrections(
    searcher: &Searcher,
    field: Field,
    words: &[String],
    known: &dyn Fn(&str) -> bool,
) -> tantivy::Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for word in words {
        let chars = word.chars().count();
        if chars < CORRECT_MIN_CHARS
            || out.contains_key(word)
            || known(word)
            || searcher.doc_freq(&Term::from_field_text(field, word))? > 0
        {
            continue;
        }
        let mut found = nearest(searcher, field, word, 1)?;
        if found.is_none() && chars >= TWO_EDITS_MIN_CHARS {
            found = nearest(searcher, field, word, 2)?;
        }
        if let Some(found) = found {
            out.insert(word.clone(), found);
        }
    }
    Ok(out)
}

/// `text` with each corrected word replaced (lowercased; words are runs of letters and digits).
pub fn corrected_text(text: &str, corrections: &HashMap<String, String>) -> String {
    let lower = text.to_lowercase();
    if corrections.is_empty() {
        return lower;
    }
    let mut out = String::with_capacity(lower.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(corrections.get(word.as_str()).map_or(word.as_str(), String::as_str));
        word.clear();
    };
    for c in lower.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrected_text_replaces_whole_words_only() {
        let corrections = HashMap::from([("hjemmløs".to_owned(), "hjemløs".to_owned())]);
        assert_eq!(
            corrected_text("Han er Hjemmløs, ikke hjemmløsx.", &corrections),
            "han er hjemløs, ikke hjemmløsx."
        );
        assert_eq!(corrected_text("Gæld", &HashMap::new()), "gæld");
    }
}
