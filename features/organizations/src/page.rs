//! The list envelope: `{ data, page: { limit, offset, total } }`.

use poem_openapi::{
    types::{ParseFromJSON, ToJSON},
    Object,
};

#[derive(Debug, Object)]
pub struct PageInfo {
    pub limit: u32,
    pub offset: u32,
    /// Items matching the request, across all pages.
    pub total: u64,
}

#[derive(Debug, Object)]
pub struct Page<T: ParseFromJSON + ToJSON + Send + Sync> {
    pub data: Vec<T>,
    pub page: PageInfo,
}

pub fn default_limit() -> u32 {
    20
}

/// `%text%` for `ILIKE`, with the pattern characters of `text` escaped.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(super::contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
