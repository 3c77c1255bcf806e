//! Text analysis: Danish (compound splitting, stemming, folding) and English chains.

use std::collections::BTreeSet;
use std::mem;

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, SplitCompoundWords, Stemmer,
    StopWordFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer, TokenizerManager,
};

use crate::{NeedTerms, Result};

/// Danish analyser with compound splitting (the main recall field).
pub const DA: &str = "bb_da";
/// Danish analyser without compound splitting (exact, boosted field).
pub const DA_PLAIN: &str = "bb_da_plain";
/// English analyser.
pub const EN: &str = "bb_en";
/// Lowercasing + folding only (no stemming), for typo-tolerant matching of words as typed.
pub const FOLD: &str = "bb_fold";
/// Lowercasing only: the words as written, for spelling correction.
pub const WORDS: &str = "bb_words";

/// Bump when the analysis chain changes so that indexes built with an older chain are reported
/// as needing a rebuild (see `SearchIndex::applied_seq`).
const ANALYSIS_VERSION: u32 = 3;

/// Small built-in Danish vocabulary of the social-services domain, used (together with the needs'
/// labels and synonyms) as the dictionary for compound splitting. Lowercase word forms.
const DANISH_WORDS: &[&str] = &[
    "lektie",
    "lektier",
    "hjælp",
    "hjælpe",
    "café",
    "cafe",
    "gæld",
    "gælds",
    "råd",
    "rådgivning",
    "rådgiver",
    "vejledning",
    "vejleder",
    "støtte",
    "børn",
    "børne",
    "barn",
    "ung",
    "unge",
    "ungdom",
    "ungdoms",
    "familie",
    "familier",
    "forældre",
    "mor",
    "mødre",
    "far",
    "fædre",
    "kvinde",
    "kvinder",
    "mand",
    "mænd",
    "krise",
    "krisecenter",
    "center",
    "centre",
    "bolig",
    "boliger",
    "hus",
    "huse",
    "lejlighed",
    "værelse",
    "hjemløs",
    "hjemløse",
    "job",
    "arbejde",
    "arbejds",
    "beskæftigelse",
    "praktik",
    "sprog",
    "dansk",
    "danskundervisning",
    "undervisning",
    "skole",
    "skoler",
    "klasse",
    "uddannelse",
    "uddannelses",
    "fritid",
    "fritids",
    "sport",
    "idræt",
    "idræts",
    "fodbold",
    "klub",
    "klubber",
    "forening",
    "foreninger",
    "frivillig",
    "frivillige",
    "psykisk",
    "psykiatri",
    "sundhed",
    "sundheds",
    "trivsel",
    "vold",
    "voldsramt",
    "misbrug",
    "misbrugs",
    "alkohol",
    "stof",
    "stoffer",
    "mad",
    "madpakke",
    "tøj",
    "tøjbank",
    "bank",
    "juridisk",
    "ret",
    "rets",
    "retshjælp",
    "advokat",
    "mentor",
    "netværk",
    "ensomhed",
    "ensom",
    "venskab",
    "venner",
    "ven",
    "værested",
    "social",
    "sociale",
    "økonomi",
    "økonomisk",
    "budget",
    "penge",
    "samtale",
    "samtaler",
    "terapi",
    "gruppe",
    "grupper",
    "telefon",
    "linje",
    "nat",
    "dag",
    "aften",
    "weekend",
    "bydel",
    "område",
    "by",
    "gade",
    "sted",
    "tilbud",
    "akut",
    "rådgivnings",
    "hjælpe",
    "lektiecafé",
    "bolig",
    "gellerup",
    "aarhus",
    "århus",
    "opgang",
    "nabo",
    "naboer",
    "fællesskab",
    "kursus",
    "kurser",
    "træning",
    "spejder",
    "musik",
    "kunst",
    "læge",
    "tandlæge",
    "sygdom",
    "handicap",
    "pension",
    "kontanthjælp",
    "ydelse",
    "skat",
    "opholds",
    "tilladelse",
    "integration",
    "flygtning",
    "flygtninge",
    "tolk",
    "oversættelse",
];

/// Danish folding after stemming: å/aa → a, æ → ae, ø → oe (also ä/ö), so that "Arhus",
/// "Aarhus" and "Århus" all fold to "arhus". Other diacritics are handled by
/// [`AsciiFoldingFilter`] afterwards.
pub fn danish_fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut prev_a = false;
    for c in text.chars() {
        match c {
            'å' | 'Å' => {
                if !prev_a {
                    out.push('a');
                }
                prev_a = true;
                continue;
            }
            'a' => {
                if !prev_a {
                    out.push('a');
                }
                prev_a = true;
                continue;
            }
            'æ' | 'ä' => out.push_str("ae"),
            'ø' | 'ö' => out.push_str("oe"),
            _ => out.push(c),
        }
        prev_a = false;
    }
    out
}

/// Token filter applying [`danish_fold`].
#[derive(Clone)]
pub struct DanishFold;

impl TokenFilter for DanishFold {
    type Tokenizer<T: Tokenizer> = DanishFoldFilter<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> DanishFoldFilter<T> {
        DanishFoldFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub struct DanishFoldFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for DanishFoldFilter<T> {
    type TokenStream<'a> = DanishFoldStream<T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        DanishFoldStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub struct DanishFoldStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for DanishFoldStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if token.text.contains(['a', 'å', 'æ', 'ø', 'ä', 'ö', 'Å']) {
            let folded = danish_fold(&token.text);
            let _ = mem::replace(&mut token.text, folded);
        }
        true
    }
    fn token(&self) -> &Token {
        self.tail.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The analysers of one index, built from the needs taxonomy (its words feed the compound
/// dictionary).
#[derive(Clone)]
pub struct Analyzers {
    pub da: TextAnalyzer,
    pub da_plain: TextAnalyzer,
    pub en: TextAnalyzer,
    pub fold: TextAnalyzer,
    /// Lowercasing word splitter for the raw query (no stemming).
    pub words: TextAnalyzer,
    /// Fingerprint of the analysis chain (version + dictionary).
    pub fingerprint: u64,
}

fn danish_stemmer_only() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::Danish))
        .build()
}

/// Tokens of `text` after `analyzer`.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Whether `word` is two or more other words of `dict` (each of at least three letters) written together.
fn made_of_others(word: &str, dict: &BTreeSet<String>) -> bool {
    let boundaries: Vec<usize> = word.char_indices().map(|(i, _)| i).chain([word.len()]).collect();
    // reachable[i]: word[..boundaries[i]] is a sequence of dictionary words, counting how many
    let mut parts: Vec<Option<usize>> = vec![None; boundaries.len()];
    parts[0] = Some(0);
    for end in 1..boundaries.len() {
        for start in 0..end {
            if end - start < 3 {
                continue;
            }
            if let Some(n) = parts[start]
                && dict.contains(&word[boundaries[start]..boundaries[end]])
            {
                parts[end] = Some(parts[end].map_or(n + 1, |m| m.max(n + 1)));
            }
        }
    }
    parts[boundaries.len() - 1].is_some_and(|n| n >= 2)
}

fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

impl Analyzers {
    /// `words`: more Danish words for compound splitting (the vocabulary's), besides the built-in list and the
    /// needs' labels and synonyms.
    pub fn new(needs: &[NeedTerms], words: &[String]) -> Result<Self> {
        let mut words_an = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .build();
        let mut stem = danish_stemmer_only();

        // Dictionary of word forms, their stems and the "s"/"e" joint forms.
        let mut base: BTreeSet<String> = DANISH_WORDS.iter().map(|w| w.to_string()).collect();
        for need in needs {
            for text in need.labels.iter().chain(&need.synonyms_da) {
                base.extend(tokens(&mut words_an, text));
            }
        }
        for text in words {
            base.extend(tokens(&mut words_an, text));
        }
        let mut dict: BTreeSet<String> = BTreeSet::new();
        for word in base {
            if word.chars().count() < 3 {
                continue;
            }
            let mut forms = vec![word.clone()];
            forms.extend(tokens(&mut stem, &word));
            for form in forms {
                if form.chars().count() < 3 {
                    continue;
                }
                if !form.ends_with('s') {
                    dict.insert(format!("{form}s"));
                }
                if !form.ends_with('e') {
                    dict.insert(format!("{form}e"));
                }
                dict.insert(form);
            }
        }
        // A compound in the dictionary would be kept whole ("gældsrådgivning" is a word of the bridge): keep only
        // words that are not made of other words of the dictionary, so that it splits into "gælds" + "rådgivning".
        let whole: BTreeSet<String> = dict.iter().filter(|w| made_of_others(w, &dict)).cloned().collect();
        dict.retain(|w| !whole.contains(w));
        let mut fingerprint = 0xcbf2_9ce4_8422_2325u64;
        fnv1a(&mut fingerprint, &ANALYSIS_VERSION.to_le_bytes());
        for word in &dict {
            fnv1a(&mut fingerprint, word.as_bytes());
            fnv1a(&mut fingerprint, &[0]);
        }
        let splitter = SplitCompoundWords::from_dictionary(dict.iter())?;

        let da = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::Danish).expect("danish stop words"))
            .filter(Stemmer::new(Language::Danish))
            .filter(splitter)
            .filter(Stemmer::new(Language::Danish))
            .filter(DanishFold)
            .filter(AsciiFoldingFilter)
            .build();
        let da_plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::Danish).expect("danish stop words"))
            .filter(Stemmer::new(Language::Danish))
            .filter(DanishFold)
            .filter(AsciiFoldingFilter)
            .build();
        let en = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::English).expect("english stop words"))
            // the English fields hold Danish text too: its stop words are noise there
            .filter(StopWordFilter::new(Language::Danish).expect("danish stop words"))
            .filter(Stemmer::new(Language::English))
            .filter(AsciiFoldingFilter)
            .build();
        let fold = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(DanishFold)
            .filter(AsciiFoldingFilter)
            .build();
        Ok(Analyzers {
            da,
            da_plain,
            en,
            fold,
            words: words_an,
            fingerprint,
        })
    }

    pub fn register(&self, manager: &TokenizerManager) {
        manager.register(DA, self.da.clone());
        manager.register(DA_PLAIN, self.da_plain.clone());
        manager.register(EN, self.en.clone());
        manager.register(FOLD, self.fold.clone());
        manager.register(WORDS, self.words.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_makes_aarhus_variants_equal() {
        assert_eq!(danish_fold("århus"), "arhus");
        assert_eq!(danish_fold("aarhus"), "arhus");
        assert_eq!(danish_fold("arhus"), "arhus");
        assert_eq!(danish_fold("gæld"), "gaeld");
        assert_eq!(danish_fold("børn"), "boern");
    }

    #[test]
    fn compounds_are_split() {
        let mut a = Analyzers::new(&[], &[]).unwrap();
        let t = tokens(&mut a.da, "Lektiehjælp i Gellerup");
        assert!(t.contains(&"lekti".to_string()), "{t:?}");
        let q = tokens(&mut a.da, "lektie");
        assert!(q.iter().all(|x| t.contains(x)), "{t:?} {q:?}");
        let t = tokens(&mut a.da, "Gældsrådgivning");
        let q = tokens(&mut a.da, "gæld");
        assert!(q.iter().all(|x| t.contains(x)), "{t:?} {q:?}");
        // also when the compound itself is one of the extra words
        let mut a = Analyzers::new(
            &[],
            &[
                "gældsrådgivning".to_owned(),
                "madudlevering".to_owned(),
                "udlevering".to_owned(),
            ],
        )
        .unwrap();
        let t = tokens(&mut a.da, "Gældsrådgivning");
        assert!(q.iter().all(|x| t.contains(x)), "{t:?} {q:?}");
        let t = tokens(&mut a.da, "Madudlevering");
        let q = tokens(&mut a.da, "mad");
        assert!(q.iter().all(|x| t.contains(x)), "{t:?} {q:?}");
    }
}
