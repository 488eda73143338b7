//! How message text becomes search terms, and how a query is matched.
//!
//! One portable scheme for every engine, so that SQLite, PostgreSQL and
//! MariaDB (which has no n-gram parser and ignores words under three
//! characters) find exactly the same messages:
//!
//! 1. **Folding** ([`fold`]): NFKC (full-width letters and digits become
//!    ASCII, half-width katakana full-width), lower case, and for letters
//!    outside Chinese, Japanese and Korean the accents dropped (`Café` →
//!    `cafe`; Japanese voiced kana and Hangul are left whole, where the
//!    "accent" is part of the letter). Variation selectors, zero-width
//!    joiners and skin-tone modifiers go, so an emoji matches however it
//!    was typed. Every run of spaces and punctuation becomes one space.
//!    Each folded character remembers where it came from in the original
//!    text, so excerpts show the original.
//! 2. **Terms** ([`terms`]): a *word* (a run of letters and digits of the
//!    non-CJK scripts) gives its prefixes of 2, 3, 4, 6, 8 and 12
//!    characters, as far as it is long, so `meet` finds `meeting` and
//!    two-letter queries work; a *CJK run* (Han, kana, Hangul) gives every
//!    character and every pair of neighbours (overlapping bigrams), so any
//!    run inside a sentence without spaces is found; an emoji gives
//!    itself. Terms are stored as 64-bit FNV-1a hashes.
//! 3. **Queries** ([`Query`]): folded and cut into terms the same way; a
//!    message is a candidate when it has the query's most selective terms,
//!    and a hit only when its folded text really contains every piece of
//!    the query ([`Query::find`]). That check removes hash collisions,
//!    bigrams found apart from each other and stale terms of an edited
//!    message, so the index only has to never miss.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// The prefix lengths a word is indexed under. A query word of length n
/// looks up its prefix of the largest of these that is at most n; longer
/// words are cut to 12 characters there and checked whole by
/// [`Query::find`].
const PREFIXES: [usize; 6] = [2, 3, 4, 6, 8, 12];

/// Most terms a query looks up in the index; further terms are only
/// checked by [`Query::find`] (a few selective terms already leave few
/// candidates, and every term looked up costs a probe per candidate).
pub const QUERY_TERMS_MAX: usize = 4;

/// What kind of character, for cutting text into terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Letters and digits of scripts that separate words with spaces.
    Word,
    /// Han, Hiragana, Katakana, Hangul: searched by character bigrams.
    Cjk,
    /// Emoji and pictographs: each is a term of its own.
    Symbol,
    /// Space and punctuation: separates, never matched.
    Sep,
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF      // Hangul jamo
        | 0x3005..=0x3007    // 々 〆 〇
        | 0x3040..=0x309F    // Hiragana
        | 0x30A0..=0x30FF    // Katakana
        | 0x3130..=0x318F    // Hangul compatibility jamo
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xA960..=0xA97F    // Hangul jamo extended A
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xD7B0..=0xD7FF    // Hangul jamo extended B
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width katakana (NFKC widens them)
        | 0x20000..=0x3134F) // CJK extensions B to G
}

fn is_symbol(c: char) -> bool {
    matches!(c as u32,
        0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139
        | 0x2190..=0x21FF
        | 0x2300..=0x23FF
        | 0x25A0..=0x27BF
        | 0x2900..=0x297F
        | 0x2B00..=0x2BFF
        | 0x3030 | 0x303D | 0x3297 | 0x3299
        | 0x1F000..=0x1FAFF)
}

/// Characters that change how another looks but carry nothing to match:
/// variation selectors, joiners, skin-tone modifiers, invisible format
/// characters.
fn is_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x200B..=0x200F | 0x2060..=0x2064 | 0xFE00..=0xFE0F
        | 0xFEFF | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F)
        || is_combining_mark(c)
}

fn class(c: char) -> Class {
    if c.is_alphanumeric() {
        if is_cjk(c) { Class::Cjk } else { Class::Word }
    } else if is_symbol(c) {
        Class::Symbol
    } else {
        Class::Sep
    }
}

/// Text in its searchable form: folded characters, each with the byte
/// range of the original text it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    /// Folded characters; separators are single spaces, never at either
    /// end.
    pub chars: Vec<char>,
    /// For each of `chars`, the original bytes it came from (`start..end`).
    pub spans: Vec<(usize, usize)>,
}

impl Folded {
    fn push(&mut self, c: char, span: (usize, usize)) {
        if class(c) == Class::Sep {
            if self.chars.last().is_some_and(|&last| last != ' ') {
                self.chars.push(' ');
                self.spans.push(span);
            }
        } else {
            self.chars.push(c);
            self.spans.push(span);
        }
    }

    fn finish(mut self) -> Folded {
        if self.chars.last() == Some(&' ') {
            self.chars.pop();
            self.spans.pop();
        }
        self
    }

    /// The folded text as a string (for tests and logs).
    pub fn as_string(&self) -> String {
        self.chars.iter().collect()
    }
}

/// Fold `text` into its searchable form (see the module docs).
pub fn fold(text: &str) -> Folded {
    let mut out = Folded::default();
    let mut cluster = String::new();
    let mut start = 0;
    // A cluster is a character with the combining marks after it:
    // normalised together, so `e` + U+0301 folds like `é`.
    for (at, c) in text.char_indices() {
        if !cluster.is_empty() && !is_combining_mark(c) {
            fold_cluster(&cluster, (start, at), &mut out);
            cluster.clear();
        }
        if cluster.is_empty() {
            start = at;
        }
        cluster.push(c);
    }
    if !cluster.is_empty() {
        fold_cluster(&cluster, (start, text.len()), &mut out);
    }
    out.finish()
}

/// Fold one cluster (a character and its combining marks) into `out`,
/// every folded character pointing at the cluster's bytes.
fn fold_cluster(cluster: &str, span: (usize, usize), out: &mut Folded) {
    for c in cluster.nfkc() {
        for lower in c.to_lowercase() {
            if is_ignorable(lower) {
                continue;
            }
            if lower.is_ascii() || class(lower) != Class::Word {
                out.push(lower, span);
            } else {
                decompose_canonical(lower, |part| {
                    if !is_ignorable(part) {
                        out.push(part, span);
                    }
                });
            }
        }
    }
}

/// A term's stored value: the 64-bit FNV-1a hash of its UTF-8 bytes (the
/// same on every node and every build, unlike std's hasher).
pub fn term_hash(term: &[char]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = [0u8; 4];
    for c in term {
        for byte in c.encode_utf8(&mut buf).bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash as i64
}

/// The runs of one class in folded characters: (class, start, end).
fn runs(chars: &[char]) -> impl Iterator<Item = (Class, usize, usize)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < chars.len() {
            let c = class(chars[at]);
            let start = at;
            at += 1;
            if c == Class::Sep {
                continue;
            }
            // A symbol is a run of its own.
            if c != Class::Symbol {
                while at < chars.len() && class(chars[at]) == c {
                    at += 1;
                }
            }
            return Some((c, start, at));
        }
        None
    })
}

/// Every term of folded text, as hashes, sorted and without repeats: what
/// indexing a message writes.
pub fn terms(folded: &Folded) -> Vec<i64> {
    let chars = &folded.chars;
    let mut out = Vec::new();
    for (class, start, end) in runs(chars) {
        let run = &chars[start..end];
        match class {
            Class::Word => {
                for &p in PREFIXES.iter().filter(|&&p| p <= run.len()) {
                    out.push(term_hash(&run[..p]));
                }
            }
            Class::Cjk => {
                for i in 0..run.len() {
                    out.push(term_hash(&run[i..=i]));
                    if i + 1 < run.len() {
                        out.push(term_hash(&run[i..i + 2]));
                    }
                }
            }
            Class::Symbol => out.push(term_hash(run)),
            Class::Sep => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Why a query cannot be searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing but spaces and punctuation.
    #[error("the query has nothing to search for")]
    Empty,
    /// Only single Latin letters or digits: too common to look up.
    #[error("the query is too short: give a word of two letters, a CJK character or an emoji")]
    TooShort,
}

/// A parsed query: its pieces (the folded query split at spaces) and the
/// terms to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pieces: Vec<Vec<char>>,
    /// The terms to look up, most selective first, at most
    /// [`QUERY_TERMS_MAX`].
    pub terms: Vec<i64>,
}

impl Query {
    /// Fold `text` and pick its terms.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let folded = fold(text);
        if folded.chars.is_empty() {
            return Err(QueryError::Empty);
        }
        let pieces: Vec<Vec<char>> = folded
            .chars
            .split(|&c| c == ' ')
            .filter(|p| !p.is_empty())
            .map(<[char]>::to_vec)
            .collect();
        // (rank, term): a higher rank is likely to be rarer.
        let mut ranked: Vec<(usize, i64)> = Vec::new();
        for piece in &pieces {
            for (class, start, end) in runs(piece) {
                let run = &piece[start..end];
                match class {
                    Class::Word => {
                        if let Some(&p) = PREFIXES.iter().rev().find(|&&p| p <= run.len()) {
                            ranked.push((p * 10, term_hash(&run[..p])));
                        }
                    }
                    Class::Cjk if run.len() == 1 => ranked.push((15, term_hash(run))),
                    Class::Cjk => {
                        for pair in run.windows(2) {
                            ranked.push((50, term_hash(pair)));
                        }
                    }
                    Class::Symbol => ranked.push((35, term_hash(run))),
                    Class::Sep => {}
                }
            }
        }
        // Most selective first; the same term once.
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut terms: Vec<i64> = Vec::new();
        for (_, term) in ranked {
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        if terms.is_empty() {
            return Err(QueryError::TooShort);
        }
        terms.truncate(QUERY_TERMS_MAX);
        Ok(Query { pieces, terms })
    }

    /// Where each piece of the query first occurs in `text`, as folded
    /// character ranges `(start, len)` in query order; `None` unless every
    /// piece occurs. A piece that starts with a letter or digit of a
    /// spaced script must start a word there (`eet` does not find
    /// `meeting`, `3点` does not find `13点`); CJK and emoji match
    /// anywhere.
    pub fn find(&self, text: &Folded) -> Option<Vec<(usize, usize)>> {
        let hay = &text.chars;
        self.pieces
            .iter()
            .map(|piece| {
                let word_start = class(piece[0]) == Class::Word;
                (0..=hay.len().checked_sub(piece.len())?)
                    .find(|&at| {
                        hay[at..at + piece.len()] == piece[..]
                            && (!word_start || at == 0 || class(hay[at - 1]) != Class::Word)
                    })
                    .map(|at| (at, piece.len()))
            })
            .collect()
    }
}

/// An excerpt of `original` around the first of `matches` (folded ranges
/// of `folded`, which is `fold(original)`), at most `max_chars`
/// characters with `…` where it was cut and line breaks as spaces, and
/// where each match lies in it (`[start, len]` in characters).
pub fn excerpt(
    original: &str,
    folded: &Folded,
    matches: &[(usize, usize)],
    max_chars: usize,
) -> (String, Vec<[u32; 2]>) {
    // Byte ranges of the matches in the original.
    let spans: Vec<(usize, usize)> = matches
        .iter()
        .filter(|(_, len)| *len > 0)
        .filter_map(|&(at, len)| {
            let first = folded.spans.get(at)?;
            let last = folded.spans.get(at + len - 1)?;
            Some((first.0, last.1))
        })
        .collect();
    let chars: Vec<(usize, char)> = original.char_indices().collect();
    let index_of = |byte: usize| chars.partition_point(|&(at, _)| at < byte);
    let focus = spans.iter().map(|s| s.0).min().map_or(0, index_of);
    let max_chars = max_chars.max(8);
    // Some context before the first match, the rest after it.
    let lead = (max_chars / 4).min(focus);
    let mut from = focus - lead;
    let mut to = (from + max_chars).min(chars.len());
    if to - from < max_chars {
        from = to.saturating_sub(max_chars);
    }
    let cut_front = from > 0;
    let cut_back = to < chars.len();
    // Room for the ellipses.
    if cut_front && from < focus {
        from += 1;
    }
    if cut_back && to > from + 1 {
        to -= 1;
    }
    let mut text = String::new();
    if cut_front {
        text.push('…');
    }
    let offset = usize::from(cut_front);
    for &(_, c) in &chars[from..to] {
        text.push(if c.is_control() { ' ' } else { c });
    }
    if cut_back {
        text.push('…');
    }
    let mut highlights = Vec::new();
    for (start, end) in spans {
        let (s, e) = (index_of(start), index_of(end));
        if s >= from && e <= to && e > s {
            let at = u32::try_from(s - from + offset).unwrap_or(u32::MAX);
            let len = u32::try_from(e - s).unwrap_or(u32::MAX);
            highlights.push([at, len]);
        }
    }
    highlights.sort_unstable();
    (text, highlights)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> String {
        fold(text).as_string()
    }

    #[test]
    fn folding_drops_case_accents_width_and_punctuation() {
        let cases = [
            ("Café", "cafe"),
            ("CAFÉ au LAIT!", "cafe au lait"),
            ("cafe\u{301}", "cafe"),
            ("Ｈｅｌｌｏ，　ｗｏｒｌｄ", "hello world"),
            ("ﾃｽﾄ", "テスト"),
            ("明天下午三点开会议，你好吗？", "明天下午三点开会议 你好吗"),
            ("がぎぐ", "がぎぐ"),
            ("한국어 검색", "한국어 검색"),
            ("Ærøskøbing Straße", "ærøskøbing straße"),
            ("👍🏽 ok", "👍 ok"),
            ("❤️", "❤"),
            ("  --a--  ", "a"),
        ];
        for (text, want) in cases {
            assert_eq!(folded(text), want, "{text:?}");
        }
    }

    #[test]
    fn spans_point_into_the_original() {
        let text = "Ünïcode café";
        let f = fold(text);
        assert_eq!(f.chars.len(), f.spans.len());
        let (s, e) = f.spans[f.chars.len() - 1];
        assert_eq!(&text[s..e], "é");
    }

    fn hit(query: &str, text: &str) -> bool {
        let q = Query::parse(query).expect("query");
        let f = fold(text);
        let indexed = terms(&f);
        let found = q.find(&f).is_some();
        if found {
            // The index never misses what the check finds.
            for term in &q.terms {
                assert!(
                    indexed.contains(term),
                    "{query:?} in {text:?}: term missing"
                );
            }
        }
        found
    }

    #[test]
    fn queries_find_what_they_should() {
        let yes = [
            ("你好", "明天下午三点开会议，你好吗"),
            ("会议", "明天下午三点开会议，你好吗"),
            ("会", "明天下午三点开会议，你好吗"),
            ("开会 你好", "明天下午三点开会议，你好吗"),
            ("cafe", "Meet me at the Café"),
            ("CAFÉ", "meet me at the cafe"),
            ("meet", "MEETING at noon"),
            ("at", "meet me AT noon"),
            ("会議", "明日の会議は十時からです"),
            ("カタカナ", "これはカタカナのテスト"),
            ("テスト", "ﾃｽﾄです"),
            ("검색", "한국어검색엔진"),
            ("🎉", "party 🎉🎉 tonight"),
            ("👍", "ok 👍🏽"),
            ("room 会议", "the 会议 room"),
            ("3点", "下午3点开会"),
            ("internationalization", "Internationalization matters"),
        ];
        for (q, text) in yes {
            assert!(hit(q, text), "{q:?} should find {text:?}");
        }
        let no = [
            ("你们", "明天下午三点开会议，你好吗"),
            ("eet", "meeting"),
            ("3点", "13点开会"),
            ("cafeteria", "café"),
            ("会议 再见", "明天开会议"),
            ("internationalisation", "internationalization"),
        ];
        for (q, text) in no {
            assert!(!hit(q, text), "{q:?} should not find {text:?}");
        }
    }

    #[test]
    fn bad_queries_are_refused() {
        assert_eq!(Query::parse("").err(), Some(QueryError::Empty));
        assert_eq!(Query::parse(" ,.!? ").err(), Some(QueryError::Empty));
        assert_eq!(Query::parse("a b 1").err(), Some(QueryError::TooShort));
        assert!(Query::parse("ab").is_ok());
        assert!(Query::parse("王").is_ok());
    }

    #[test]
    fn terms_are_bounded_per_word() {
        // Six prefixes for a long word, two per CJK character.
        assert_eq!(terms(&fold("internationalization")).len(), 6);
        assert_eq!(terms(&fold("会议室")).len(), 5);
        assert_eq!(
            Query::parse("a b c d e f g h").err(),
            Some(QueryError::TooShort)
        );
        assert!(
            Query::parse("one two three four five six")
                .expect("q")
                .terms
                .len()
                <= QUERY_TERMS_MAX
        );
    }

    #[test]
    fn excerpts_show_the_original_around_the_match() {
        let text = format!("{}needle in the Café{}", "x".repeat(200), "y".repeat(200));
        let q = Query::parse("cafe").expect("q");
        let f = fold(&text);
        let m = q.find(&f).expect("found");
        let (ex, hl) = excerpt(&text, &f, &m, 60);
        assert!(ex.chars().count() <= 60, "{ex}");
        assert!(ex.starts_with('…') && ex.ends_with('…'), "{ex}");
        let [at, len] = hl[0];
        let shown: String = ex.chars().skip(at as usize).take(len as usize).collect();
        assert_eq!(shown, "Café");
        // Short text: whole, no ellipsis, line breaks as spaces.
        let f = fold("hello\nworld");
        let m = Query::parse("world").expect("q").find(&f).expect("found");
        assert_eq!(excerpt("hello\nworld", &f, &m, 60).0, "hello world");
    }
}
