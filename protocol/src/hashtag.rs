//! Hashtags: extraction from text and the one normalised form they are stored in.
//!
//! Spec: `specs/kinds.md#hashtags`. A normalised hashtag is NFC, lower case
//! (Unicode default case mapping), made only of letters, digits, marks and `_`,
//! 1 to 64 characters, and not only digits. `#Adopción` and `#ADOPCIÓN` are the
//! same tag, `adopción`; `#adopcion` is another one: accents carry meaning in
//! Spanish and many other languages, so they are kept.

use unicode_normalization::UnicodeNormalization;

use crate::error::EventError;

/// Longest hashtag, in characters.
pub const MAX_HASHTAG_CHARS: usize = 64;

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || is_mark(c)
}

/// Combining marks (general category M) that NFC could not compose into the
/// letter before them; they belong to the word.
fn is_mark(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
}

/// The normalised form of a hashtag (with or without its leading `#`), or
/// `None` if it cannot be one.
pub fn normalize(tag: &str) -> Option<String> {
    let tag = tag.strip_prefix('#').unwrap_or(tag);
    let normalized: String = tag.nfc().collect::<String>().to_lowercase().nfc().collect();
    let chars = normalized.chars().count();
    if chars == 0 || chars > MAX_HASHTAG_CHARS {
        return None;
    }
    if !normalized.chars().all(is_tag_char) {
        return None;
    }
    if normalized.chars().all(|c| c.is_numeric()) {
        return None;
    }
    Some(normalized)
}

/// The hashtags in `text`, normalised, without repeats, in order of first appearance.
///
/// A hashtag starts at a `#` that begins the text or follows a character that
/// cannot be part of a word (so `a#b` and `&#39;` are not hashtags), and runs
/// over the word characters after it.
pub fn extract(text: &str) -> Vec<String> {
    let text: String = text.nfc().collect();
    let mut tags: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let starts = c == '#' && !prev.is_some_and(|p| is_tag_char(p) || p == '&' || p == '#');
        prev = Some(c);
        if !starts {
            continue;
        }
        let start = i + c.len_utf8();
        let mut end = start;
        while let Some(&(j, d)) = chars.peek() {
            if !is_tag_char(d) {
                break;
            }
            end = j + d.len_utf8();
            prev = Some(d);
            chars.next();
        }
        if let Some(tag) = normalize(&text[start..end])
            && !tags.contains(&tag)
        {
            tags.push(tag);
        }
    }
    tags
}

/// Checks a payload's `tags` list: each normalised, none repeated, at most `max`.
pub(crate) fn check_tags(
    field: &'static str,
    tags: &[String],
    max: usize,
) -> Result<(), EventError> {
    crate::check::count(field, tags.len(), max)?;
    for tag in tags {
        if normalize(tag).as_deref() != Some(tag.as_str()) {
            return Err(EventError::HashtagInvalid(tag.clone()));
        }
    }
    crate::check::unique(field, tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_composition() {
        assert_eq!(normalize("#Adopción").as_deref(), Some("adopción"));
        // Decomposed "o" + combining acute composes to the same tag.
        assert_eq!(normalize("ADOPCIO\u{301}N").as_deref(), Some("adopción"));
        assert_eq!(normalize("Rust_Lang").as_deref(), Some("rust_lang"));
        assert_eq!(normalize("2024"), None);
        assert_eq!(normalize("no space"), None);
        assert_eq!(normalize(""), None);
        assert_eq!(normalize(&"a".repeat(65)), None);
        assert_eq!(normalize(&"a".repeat(64)).map(|t| t.len()), Some(64));
    }

    #[test]
    fn extracts_in_order_without_repeats() {
        let text =
            "¡Hola! #Perros y #gatos en #ADOPCIÓN, #perros again, a#b no, &#39; no, #2024 no, ##x";
        assert_eq!(extract(text), vec!["perros", "gatos", "adopción"]);
        assert_eq!(extract("#日本語 and #emoji😀x"), vec!["日本語", "emoji"]);
    }

    #[test]
    fn check_rejects_unnormalised_tags() {
        assert!(check_tags("tags", &["rust".into()], 30).is_ok());
        assert_eq!(
            check_tags("tags", &["Rust".into()], 30),
            Err(EventError::HashtagInvalid("Rust".into()))
        );
        assert!(check_tags("tags", &["#rust".into()], 30).is_err());
        assert!(check_tags("tags", &["rust".into(), "rust".into()], 30).is_err());
    }
}
