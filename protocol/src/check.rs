//! Small checks shared by the kinds' validation.

use crate::error::EventError;

/// A text field of at most `max` UTF-8 bytes.
pub(crate) fn text(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    if s.len() > max {
        return Err(EventError::TextTooLong {
            field,
            len: s.len(),
            max,
        });
    }
    if s.chars().any(|c| c == '\0') {
        return Err(EventError::field(field, "contains a NUL character"));
    }
    Ok(())
}

/// A text field that must hold something other than white space.
pub(crate) fn required_text(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    text(field, s, max)?;
    if s.trim().is_empty() {
        return Err(EventError::field(field, "must not be empty"));
    }
    Ok(())
}

/// An optional text field.
pub(crate) fn opt_text(
    field: &'static str,
    s: &Option<String>,
    max: usize,
) -> Result<(), EventError> {
    match s {
        Some(s) => required_text(field, s, max),
        None => Ok(()),
    }
}

/// A list of at most `max` items.
pub(crate) fn count(field: &'static str, len: usize, max: usize) -> Result<(), EventError> {
    if len > max {
        return Err(EventError::TooManyItems { field, len, max });
    }
    Ok(())
}

/// A list whose items are all different.
pub(crate) fn unique<T: PartialEq>(field: &'static str, items: &[T]) -> Result<(), EventError> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(EventError::field(field, "contains the same item twice"));
        }
    }
    Ok(())
}

/// A language tag: a BCP 47 tag in its lower-case-primary form, such as `es`,
/// `pt-BR` or `zh-Hant`. Only the shape is checked, not the registry.
pub(crate) fn language(field: &'static str, tag: &str) -> Result<(), EventError> {
    let bad = || EventError::field(field, format!("`{tag}` is not a BCP 47 language tag"));
    if tag.len() > 35 {
        return Err(bad());
    }
    let mut parts = tag.split('-');
    let primary = parts.next().ok_or_else(bad)?;
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(bad());
    }
    for part in parts {
        if !(1..=8).contains(&part.len()) || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad());
        }
    }
    Ok(())
}

/// An absolute `http`/`https` URL of reasonable length with no white space.
pub(crate) fn url(field: &'static str, u: &str) -> Result<(), EventError> {
    text(field, u, 2048)?;
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| !r.is_empty())
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(EventError::field(field, "must be an absolute http(s) URL"));
    }
    Ok(())
}

/// A millisecond timestamp within the range every Kith timestamp must be in.
pub(crate) fn timestamp(field: &'static str, ms: u64) -> Result<(), EventError> {
    if !(crate::MIN_TIMESTAMP_MS..=crate::MAX_TIMESTAMP_MS).contains(&ms) {
        return Err(EventError::field(
            field,
            "not a millisecond timestamp between 2020 and 9999",
        ));
    }
    Ok(())
}
