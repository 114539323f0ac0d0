//! Form validation shared by the account pages: each rule returns the message shown next to
//! its field. Control characters are refused everywhere, so nothing odd is stored, and so are
//! bytes that are not UTF-8: a form body is decoded leniently, every such byte becoming U+FFFD,
//! which no one types, so a field holding one is refused with the form shown again.

use std::collections::BTreeMap;

use super::composition::Draft;
use super::release;
use super::tag;

/// Messages per field name; empty means the form is valid.
pub type FieldErrors = BTreeMap<&'static str, String>;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// What a field hears when it held bytes that are not UTF-8 text.
pub const NOT_UTF8: &str = "This field holds bytes that are not valid UTF-8 text (or U+FFFD, the character that stands for them).";

/// Whether decoding replaced invalid bytes (U+FFFD, the replacement character).
fn not_utf8(value: &str) -> bool {
    value.contains(char::REPLACEMENT_CHARACTER)
}

/// A plausible address: something@domain.tld, at most 64 characters, no spaces. Returned
/// lower-cased, as it is stored.
pub fn email(value: &str) -> Result<String, &'static str> {
    let value = value.trim();
    if not_utf8(value) {
        return Err(NOT_UTF8);
    }
    if value.is_empty() {
        return Err("This field is required.");
    }
    if value.chars().count() > 64 {
        return Err("Field must be between 1 and 64 characters long.");
    }
    let valid = !has_control(value)
        && !value.contains(char::is_whitespace)
        && value.split('@').count() == 2
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && domain
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        })
        // An address the mailer cannot send to (`a,b@x.io`, `.a@x.io`) would leave the account
        // forever unconfirmed.
        && value.parse::<lettre::Address>().is_ok();
    if !valid {
        return Err("Invalid email address.");
    }
    Ok(value.to_lowercase())
}

/// 1–64 characters: a letter, then letters, digits, dots or underscores.
pub fn username(value: &str) -> Result<String, &'static str> {
    let value = value.trim();
    if not_utf8(value) {
        return Err(NOT_UTF8);
    }
    if value.is_empty() {
        return Err("This field is required.");
    }
    if value.chars().count() > 64 {
        return Err("Field must be between 1 and 64 characters long.");
    }
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
        return Err(
            "Usernames must start with a letter and have only letters, numbers, dots or underscores.",
        );
    }
    Ok(value.to_owned())
}

/// Longest Markdown accepted for a description or a comment.
pub const MAX_MARKDOWN_CHARS: usize = 20_000;

/// A composition as typed: release type, title (1–64 characters), Markdown description and
/// tags (see [`super::tag`]).
pub fn composition<'a, S: AsRef<str>>(
    release_type: &str,
    title: &'a str,
    description: &'a str,
    tags: &[S],
) -> Result<Draft<'a>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let release_type = release_type
        .trim()
        .parse::<i16>()
        .ok()
        .filter(|v| release::TYPES.iter().any(|(t, _)| t == v));
    if release_type.is_none() {
        errors.insert("release_type", "Choose a single, an EP or an album.".into());
    }
    let title = title.trim();
    if not_utf8(title) {
        errors.insert("title", NOT_UTF8.into());
    } else if title.is_empty() {
        errors.insert("title", "Title is required.".into());
    } else if title.chars().count() > 64 {
        errors.insert(
            "title",
            "The title can be at most 64 characters long.".into(),
        );
    } else if has_control(title) {
        errors.insert(
            "title",
            "The title cannot contain control characters.".into(),
        );
    }
    if let Err(e) = markdown_text(description) {
        errors.insert("description", e.into());
    }
    let tags = tag::normalise_all(tags).unwrap_or_else(|e| {
        errors.insert("tags", e.to_string());
        Vec::new()
    });
    match release_type {
        Some(release_type) if errors.is_empty() => Ok(Draft {
            release_type,
            title,
            description,
            tags,
        }),
        _ => Err(errors),
    }
}

/// Markdown text: bounded, and no control characters but line breaks and tabs.
pub fn markdown_text(text: &str) -> Result<(), &'static str> {
    if not_utf8(text) {
        return Err(NOT_UTF8);
    }
    if text.chars().count() > MAX_MARKDOWN_CHARS {
        return Err("The text is too long (at most 20,000 characters).");
    }
    if has_control_besides_breaks(text) {
        return Err("The text cannot contain control characters.");
    }
    Ok(())
}

/// Control characters other than line breaks and tabs (which multi-line text may hold).
fn has_control_besides_breaks(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// Longest name or location on a profile.
pub const MAX_SHORT_CHARS: usize = 64;
/// Longest bio on a profile.
pub const MAX_ABOUT_ME_CHARS: usize = 2_000;

/// A one-line field: trimmed, at most 64 characters, no control characters; empty is `None`.
pub fn short_text(value: &str) -> Result<Option<String>, &'static str> {
    let value = value.trim();
    if not_utf8(value) {
        return Err(NOT_UTF8);
    }
    if value.chars().count() > MAX_SHORT_CHARS {
        return Err("Field cannot be longer than 64 characters.");
    }
    if value.chars().any(char::is_control) {
        return Err("This field cannot contain control characters.");
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// The bio: bounded, line breaks and tabs allowed but no other control characters.
pub fn about_me(value: &str) -> Result<Option<String>, &'static str> {
    let value = value.trim().replace("\r\n", "\n");
    if not_utf8(&value) {
        return Err(NOT_UTF8);
    }
    if value.chars().count() > MAX_ABOUT_ME_CHARS {
        return Err("The text is too long (at most 2,000 characters).");
    }
    if has_control_besides_breaks(&value) {
        return Err("The text cannot contain control characters.");
    }
    Ok((!value.is_empty()).then_some(value))
}

/// A new password and its confirmation.
pub fn new_password(password: &str, confirmation: &str) -> Result<(), &'static str> {
    let count = password.chars().count();
    if count < MIN_PASSWORD_CHARS {
        return Err("Passwords must be at least 8 characters long.");
    }
    if count > MAX_PASSWORD_CHARS {
        return Err("Passwords must be at most 256 characters long.");
    }
    if has_control(password) {
        return Err("Passwords cannot contain control characters.");
    }
    if not_utf8(password) {
        return Err(NOT_UTF8);
    }
    if password != confirmation {
        return Err("Passwords must match.");
    }
    Ok(())
}

/// A track's title: trimmed, 1 to 200 characters, no control characters.
pub fn track_title(raw: &str) -> Result<String, &'static str> {
    let title = raw.trim();
    if title.is_empty() {
        Err("This field is required.")
    } else if title.chars().count() > super::track::MAX_TITLE_CHARS {
        Err("Field must be between 1 and 200 characters long.")
    } else if title.chars().any(char::is_control) {
        Err("The title cannot contain control characters.")
    } else {
        Ok(title.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@@example.com",
            "ann@exa mple.com",
            "ann@example..com",
            "ann@<script>.com",
            "ann\u{0}@example.com",
            // Addresses no mail could reach.
            "a,b@example.com",
            "<x>@example.com",
            ".ann@example.com",
            "a..b@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(60))).is_err());
        for good in [
            "ann.lee+ragtime@example.com",
            "o'brien@example.co.uk",
            "ann@xn--bcher-kva.ch",
        ] {
            assert!(email(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn usernames_start_with_a_letter_and_use_a_small_alphabet() {
        assert_eq!(username("ann.b_2").unwrap(), "ann.b_2");
        for bad in [
            "",
            "2ann",
            "_ann",
            "ann b",
            "ann-b",
            "ann<script>",
            "ánn",
            &"a".repeat(65),
        ] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_length_and_a_matching_confirmation() {
        assert!(new_password("long enough", "long enough").is_ok());
        assert_eq!(
            new_password("short", "short"),
            Err("Passwords must be at least 8 characters long.")
        );
        assert_eq!(
            new_password("long enough", "long enougH"),
            Err("Passwords must match.")
        );
        assert!(new_password(&"x".repeat(300), &"x".repeat(300)).is_err());
    }

    #[test]
    fn profile_fields_are_bounded_and_free_of_control_characters() {
        assert_eq!(short_text("  Ann  "), Ok(Some("Ann".to_owned())));
        assert_eq!(short_text("   "), Ok(None));
        assert!(short_text(&"a".repeat(64)).is_ok());
        assert!(short_text(&"a".repeat(65)).is_err());
        assert!(short_text("a\tb").is_err());
        assert_eq!(
            about_me("line one\r\nline two\tend\n"),
            Ok(Some("line one\nline two\tend".to_owned()))
        );
        assert!(about_me("bell\u{7}").is_err());
        assert!(about_me(&"x".repeat(MAX_ABOUT_ME_CHARS + 1)).is_err());
    }
}
