//! Domain validation shared by the identity operations (422 `validation` problems).

use qubital_plugin::Problem;

/// A plausible email address: trimmed, one `@` with text on both sides, a dot in the domain,
/// no spaces or control characters, at most 254 characters. Returns it trimmed.
pub fn email(location: &str, value: &str) -> Result<String, Problem> {
    let value = value.trim();
    let ok = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Problem::invalid_field(location, "must be an email address"))
    }
}

/// A name: trimmed, 1 to `max` characters, no control characters. Returns it trimmed.
pub fn name(location: &str, value: &str, max: usize) -> Result<String, Problem> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Problem::invalid_field(location, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Problem::invalid_field(
            location,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Problem::invalid_field(
            location,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// An opaque token or handle sent back by the client: 1 to 512 visible ASCII characters.
pub fn token(location: &str, value: &str) -> Result<String, Problem> {
    if value.is_empty() || value.len() > 512 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Problem::invalid_field(location, "is not a valid token"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("body.email", " a@b.io ").unwrap(), "a@b.io");
        for bad in [
            "", "a", "a@", "@b.io", "a@b", "a b@c.io", "a@b@c.io", "a@.io", "a@b.io.",
        ] {
            let problem = email("body.email", bad).unwrap_err();
            assert_eq!(problem.status().as_u16(), 422, "{bad}");
            assert_eq!(problem.errors[0].location, "body.email");
        }
        assert!(email("e", &format!("{}@b.io", "a".repeat(250))).is_err());
    }

    #[test]
    fn names_and_tokens() {
        assert_eq!(name("n", "  Acme ", 100).unwrap(), "Acme");
        assert!(name("n", "   ", 100).is_err());
        assert!(name("n", &"x".repeat(101), 100).is_err());
        assert!(name("n", "a\u{0}b", 100).is_err());
        assert!(token("t", "abc-_.").is_ok());
        assert!(token("t", "").is_err());
        assert!(token("t", "a b").is_err());
        assert!(token("t", &"a".repeat(513)).is_err());
    }
}
