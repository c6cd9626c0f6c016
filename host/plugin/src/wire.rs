//! Request strings whose schema states the rule the server holds them to.
//!
//! A plain `String` field publishes `{"type": "string"}`, so a client (and a fuzzer) may send a
//! blank name or `"abc"` as a user id and get a `422` the spec never mentioned. The types here
//! publish the rule as `pattern`, `minLength` and `maxLength`; the host's request guard
//! (`qubital::http::contract`) enforces every such keyword before any handler runs and names
//! the field in its `422`. Parsing itself only insists on a JSON string, so the guard's
//! located error is the one a client sees, and the operation's own checks (trimming, turning
//! an id into a number) stay where they are.
//!
//! No rule admits U+0000: Postgres `text` cannot hold it, so such a string could only fail in
//! the database.
//!
//! The patterns are written for three regex engines at once (ECMA-262 in clients, Python's `re`
//! in schemathesis, Rust's `regex` in the guard): only character classes with `\xHH` and
//! `\uHHHH` escapes, no `\s`, `\d` or `\p{..}` whose meaning differs between them.
//!
//! ```ignore
//! struct CreateSpace {
//!     name: wire::Name<100>,      // 1..100 characters, something visible, no control characters
//!     members: Vec<wire::IdText>, // decimal ids
//! }
//! ```

use std::{borrow::Cow, fmt, marker::PhantomData, ops::Deref};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::FieldError;

/// The rule of a [`Text`]: its published pattern and lengths (in characters).
pub trait Rule: Send + Sync + 'static {
    /// Names the type in parse errors (`"name"`, `"email"`).
    const NAME: &'static str;
    /// A whole-string pattern (`^…$`).
    const PATTERN: &'static str;
    const MIN_LENGTH: usize;
    const MAX_LENGTH: usize;
}

/// Characters Rust's `char::is_control` refuses (Unicode `Cc`).
macro_rules! control {
    () => {
        r"\x00-\x1F\x7F-\x9F"
    };
}
/// Control characters and what `str::trim` removes (Unicode `White_Space`).
macro_rules! control_or_space {
    () => {
        r"\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// A display name (of a space, a tag, an organization, a person...): at most `MAX` characters,
/// at least one of them visible (the server trims it), none a control character.
pub struct NameRule<const MAX: usize>;

impl<const MAX: usize> Rule for NameRule<MAX> {
    const NAME: &'static str = "name";
    const PATTERN: &'static str = concat!(
        "^[^",
        control!(),
        "]*[^",
        control_or_space!(),
        "][^",
        control!(),
        "]*$"
    );
    const MIN_LENGTH: usize = 1;
    const MAX_LENGTH: usize = MAX;
}

/// A name that may be sent blank to clear it: at most `MAX` characters, no control characters.
pub struct ClearableNameRule<const MAX: usize>;

impl<const MAX: usize> Rule for ClearableNameRule<MAX> {
    const NAME: &'static str = "name";
    const PATTERN: &'static str = concat!("^[^", control!(), "]*$");
    const MIN_LENGTH: usize = 0;
    const MAX_LENGTH: usize = MAX;
}

/// Free text such as a message: at most `MAX` characters, line breaks allowed, at least one
/// character visible, no U+0000.
pub struct ProseRule<const MAX: usize>;

impl<const MAX: usize> Rule for ProseRule<MAX> {
    const NAME: &'static str = "text";
    const PATTERN: &'static str = concat!(r"^[^\x00]*[^", control_or_space!(), r"][^\x00]*$");
    const MIN_LENGTH: usize = 1;
    const MAX_LENGTH: usize = MAX;
}

/// Text to search for: at most `MAX` characters, at least three once trimmed (a visible
/// character, one or more of anything, a visible character).
pub struct SearchRule<const MAX: usize>;

impl<const MAX: usize> Rule for SearchRule<MAX> {
    const NAME: &'static str = "search";
    const PATTERN: &'static str = concat!(
        r"^[^\x00]*[^",
        control_or_space!(),
        r"][^\x00]+[^",
        control_or_space!(),
        r"][^\x00]*$"
    );
    const MIN_LENGTH: usize = 3;
    const MAX_LENGTH: usize = MAX;
}

/// A description: at most `MAX` characters, maybe blank; line breaks and tabs, but no other
/// control characters.
pub struct DescriptionRule<const MAX: usize>;

impl<const MAX: usize> Rule for DescriptionRule<MAX> {
    const NAME: &'static str = "description";
    const PATTERN: &'static str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";
    const MIN_LENGTH: usize = 0;
    const MAX_LENGTH: usize = MAX;
}

/// Any text (a search filter, an opaque id to match): at most `MAX` characters, no U+0000.
pub struct FreeTextRule<const MAX: usize>;

impl<const MAX: usize> Rule for FreeTextRule<MAX> {
    const NAME: &'static str = "text";
    const PATTERN: &'static str = r"^[^\x00]*$";
    const MIN_LENGTH: usize = 0;
    const MAX_LENGTH: usize = MAX;
}

/// An email address: something, one `@`, a domain with a dot inside it; no white space or
/// control characters; at most 254 characters.
pub struct EmailRule;

impl Rule for EmailRule {
    const NAME: &'static str = "email";
    const PATTERN: &'static str = concat!(
        "^[^@",
        control_or_space!(),
        "]+@[^@.",
        control_or_space!(),
        "][^@",
        control_or_space!(),
        r"]*\.[^@",
        control_or_space!(),
        "]*[^@.",
        control_or_space!(),
        "]$"
    );
    const MIN_LENGTH: usize = 5;
    const MAX_LENGTH: usize = 254;
}

/// An opaque token or handle the client got from us or from WorkOS: visible ASCII only.
pub struct TokenRule<const MAX: usize>;

impl<const MAX: usize> Rule for TokenRule<MAX> {
    const NAME: &'static str = "token";
    const PATTERN: &'static str = "^[!-~]+$";
    const MIN_LENGTH: usize = 1;
    const MAX_LENGTH: usize = MAX;
}

/// A numeric id sent as a string (how every id travels, so JavaScript keeps all its digits):
/// a positive decimal integer without leading zeros, at most 18 digits.
pub struct IdRule;

impl Rule for IdRule {
    const NAME: &'static str = "id";
    const PATTERN: &'static str = "^[1-9][0-9]{0,17}$";
    const MIN_LENGTH: usize = 1;
    const MAX_LENGTH: usize = 18;
}

/// A short symbol (a reaction's emoji): no white space or control characters.
pub struct SymbolRule<const MAX: usize>;

impl<const MAX: usize> Rule for SymbolRule<MAX> {
    const NAME: &'static str = "symbol";
    const PATTERN: &'static str = concat!("^[^", control_or_space!(), "]+$");
    const MIN_LENGTH: usize = 1;
    const MAX_LENGTH: usize = MAX;
}

/// A machine-readable key (a zone, a client message id): `A-Z a-z 0-9 _ - . :`.
pub struct KeyRule<const MAX: usize>;

impl<const MAX: usize> Rule for KeyRule<MAX> {
    const NAME: &'static str = "key";
    const PATTERN: &'static str = "^[A-Za-z0-9_.:-]+$";
    const MIN_LENGTH: usize = 1;
    const MAX_LENGTH: usize = MAX;
}

impl Text<IdRule> {
    /// The id as a number; `None` only for a string outside the rule (which the guard refuses
    /// before any handler runs).
    pub fn id(&self) -> Option<i64> {
        self.value.trim().parse().ok().filter(|id| *id > 0)
    }
}

/// The distinct ids of `ids` as numbers, in order (linear: callers bound `ids` first); each one
/// that is not an id is an error `not a user id` at `location[i]`.
pub fn distinct_ids(location: &str, ids: &[IdText], errors: &mut Vec<FieldError>) -> Vec<i64> {
    let mut parsed = Vec::with_capacity(ids.len());
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match id.id() {
            Some(id) => {
                if seen.insert(id) {
                    parsed.push(id);
                }
            }
            None => errors.push(FieldError::new(format!("{location}[{i}]"), "not a user id")),
        }
    }
    parsed
}

/// See [`NameRule`].
pub type Name<const MAX: usize> = Text<NameRule<MAX>>;
/// See [`ClearableNameRule`].
pub type ClearableName<const MAX: usize> = Text<ClearableNameRule<MAX>>;
/// See [`ProseRule`].
pub type Prose<const MAX: usize> = Text<ProseRule<MAX>>;
/// See [`SearchRule`].
pub type Search<const MAX: usize> = Text<SearchRule<MAX>>;
/// See [`DescriptionRule`].
pub type Description<const MAX: usize> = Text<DescriptionRule<MAX>>;
/// See [`FreeTextRule`].
pub type FreeText<const MAX: usize> = Text<FreeTextRule<MAX>>;
/// See [`EmailRule`].
pub type Email = Text<EmailRule>;
/// See [`TokenRule`].
pub type Token<const MAX: usize> = Text<TokenRule<MAX>>;
/// See [`IdRule`].
pub type IdText = Text<IdRule>;
/// See [`SymbolRule`].
pub type Symbol<const MAX: usize> = Text<SymbolRule<MAX>>;
/// See [`KeyRule`].
pub type Key<const MAX: usize> = Text<KeyRule<MAX>>;

/// A request string published with the rule `R` (see the module documentation).
pub struct Text<R: Rule> {
    value: String,
    rule: PhantomData<R>,
}

impl<R: Rule> Text<R> {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            rule: PhantomData,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn into_string(self) -> String {
        self.value
    }

    /// The schema published for this type (also what the guard enforces).
    pub fn schema() -> MetaSchema {
        MetaSchema {
            pattern: Some(R::PATTERN.to_owned()),
            min_length: (R::MIN_LENGTH > 0).then_some(R::MIN_LENGTH),
            max_length: Some(R::MAX_LENGTH),
            ..MetaSchema::new("string")
        }
    }
}

impl<R: Rule> Deref for Text<R> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.value
    }
}

impl<R: Rule> AsRef<str> for Text<R> {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl<R: Rule> Clone for Text<R> {
    fn clone(&self) -> Self {
        Self::new(self.value.clone())
    }
}

impl<R: Rule> PartialEq for Text<R> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<R: Rule> Eq for Text<R> {}

impl<R: Rule> std::hash::Hash for Text<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<R: Rule> fmt::Debug for Text<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl<R: Rule> From<&str> for Text<R> {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl<R: Rule> Type for Text<R> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("string({})", R::NAME))
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(Self::schema()))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.value)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.value))
    }
}

impl<R: Rule> ParseFromJSON for Text<R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(value) => Ok(Self::new(value)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<R: Rule> ToJSON for Text<R> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    fn fits<R: Rule>(value: &str) -> bool {
        let length = value.chars().count();
        Regex::new(R::PATTERN).unwrap().is_match(value) && (R::MIN_LENGTH..=R::MAX_LENGTH).contains(&length)
    }

    #[test]
    fn a_name_needs_something_visible_and_no_control_character() {
        for good in ["Acme", " Acme ", "Éco Café", "a b", "日本"] {
            assert!(fits::<NameRule<100>>(good), "{good:?}");
        }
        for bad in [
            "",
            " ",
            "\u{3000}\u{a0}",
            "a\u{0}b",
            "tab\there",
            "a\u{85}",
            "\u{9f}",
        ] {
            assert!(!fits::<NameRule<100>>(bad), "{bad:?}");
        }
        assert!(!fits::<NameRule<3>>("abcd"));
        assert!(fits::<ClearableNameRule<5>>("") && fits::<ClearableNameRule<5>>("  "));
        assert!(!fits::<ClearableNameRule<5>>("a\u{7f}"));
        assert!(fits::<ProseRule<20>>("line\n\tline") && !fits::<ProseRule<20>>(" \n\t"));
        assert!(fits::<SearchRule<20>>(" a b ") && fits::<SearchRule<20>>("abc"));
        assert!(!fits::<SearchRule<20>>("\u{b}p\t") && !fits::<SearchRule<20>>(" ab "));
        assert!(!fits::<SearchRule<20>>("abc\u{0}") && !fits::<ProseRule<20>>("hi\u{0}"));
        assert!(fits::<DescriptionRule<20>>("") && fits::<DescriptionRule<20>>("a\r\n\tb"));
        assert!(!fits::<DescriptionRule<20>>("a\u{7}b"));
        assert!(fits::<FreeTextRule<20>>("\u{7} x") && !fits::<FreeTextRule<20>>("x\u{0}"));
    }

    #[test]
    fn the_email_pattern_matches_what_the_server_accepts() {
        for good in ["a@b.io", "first.last+tag@sub.example.com"] {
            assert!(fits::<EmailRule>(good), "{good:?}");
        }
        for bad in [
            "", "a", "a@", "@b.io", "a@b", "a b@c.io", "a@b@c.io", "a@.io", "a@b.io.", " a@b.io",
        ] {
            assert!(!fits::<EmailRule>(bad), "{bad:?}");
        }
    }

    #[test]
    fn ids_tokens_symbols_and_keys() {
        assert!(fits::<IdRule>("1") && fits::<IdRule>("999999999999999999"));
        for bad in ["", "0", "01", "-1", "1a", "9999999999999999999"] {
            assert!(!fits::<IdRule>(bad), "{bad:?}");
        }
        assert!(fits::<TokenRule<512>>("abc-_.~") && !fits::<TokenRule<512>>("a b"));
        assert!(fits::<SymbolRule<32>>("👍") && !fits::<SymbolRule<32>>("👍 "));
        assert!(fits::<KeyRule<64>>("zone:a-1.b_2") && !fits::<KeyRule<64>>("zone 1"));
    }

    #[test]
    fn distinct_ids_keep_the_first_of_each_and_name_what_is_not_an_id() {
        let ids: Vec<IdText> = ["7", "3", "7", "x", "0"].into_iter().map(IdText::from).collect();
        let mut errors = Vec::new();
        assert_eq!(distinct_ids("body.ids", &ids, &mut errors), [7, 3]);
        let locations: Vec<&str> = errors.iter().map(|e| e.location.as_str()).collect();
        assert_eq!(locations, ["body.ids[3]", "body.ids[4]"]);
    }

    #[test]
    fn parsing_takes_any_json_string_and_nothing_else() {
        assert_eq!(
            Name::<10>::parse_from_json(Some(Value::String(" x ".into())))
                .unwrap()
                .as_str(),
            " x "
        );
        assert!(IdText::parse_from_json(Some(serde_json::json!(5))).is_err());
        let schema = serde_json::to_value(Name::<10>::schema()).unwrap();
        assert_eq!(schema["maxLength"], 10);
        assert_eq!(schema["minLength"], 1);
    }
}
