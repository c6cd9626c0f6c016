//! Request checks that the schema cannot express (trimming, control characters).

use qubital_plugin::{FieldError, Problem};

/// A trimmed single-line text of 1..=`max` characters.
pub fn name(location: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(location, "must not be empty"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(location, "must not contain control characters"));
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(
            location,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An optional free text of at most `max` characters; blank means none. Line breaks and tabs
/// are allowed, other control characters are not.
pub fn description(location: &str, value: &str, max: usize) -> Result<Option<String>, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(location, "must not contain control characters"));
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(
            location,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some(trimmed.to_owned()))
}

/// Collects field errors; `finish` turns any into one `422` problem.
#[derive(Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    pub fn push(&mut self, location: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(location, message));
    }

    pub fn finish(self) -> Result<(), Problem> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.0))
        }
    }
}
