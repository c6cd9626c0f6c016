//! Lists on the wire: `{ "data": [...], "page": { "limit", "offset", "total" } }`, `limit`
//! 1..=100 (default 20), `offset` >= 0; and the one safe way to build a substring filter.
//!
//! Request structs declare `limit` and `offset` themselves (poem-openapi cannot flatten into a
//! struct that denies unknown fields), with these bounds:
//!
//! ```ignore
//! /// 1..100, default 20.
//! #[oai(default = "qubital_plugin::list::default_limit", validator(minimum(value = "1"), maximum(value = "100")))]
//! limit: u32,
//! /// At most 100000.
//! #[oai(default, validator(maximum(value = "100000")))]
//! offset: u32,
//! ```

use poem_openapi::{
    types::{ParseFromJSON, ToJSON},
    Object,
};

/// `limit` when the request does not say.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 100;
/// The largest `offset` (deeper pages are not a use case; a bound keeps `OFFSET` cheap).
pub const MAX_OFFSET: u32 = 100_000;

/// For `#[oai(default = "qubital_plugin::list::default_limit")]`.
pub fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

/// The `page` of a list answer.
#[derive(Clone, Debug, PartialEq, Eq, Object, serde::Serialize)]
pub struct PageInfo {
    /// The `limit` of the request.
    pub limit: u32,
    /// The `offset` of the request.
    pub offset: u32,
    /// Items matching the request, across all pages.
    pub total: u64,
}

/// A page of a list: `{ data, page }`.
// (Doc comments here are the OpenAPI description.) Serialises with serde too, for
// `DirectJson` when `T` does.
#[derive(Debug, Object, serde::Serialize)]
pub struct Page<T: ParseFromJSON + ToJSON + Send + Sync> {
    pub data: Vec<T>,
    pub page: PageInfo,
}

impl<T: ParseFromJSON + ToJSON + Send + Sync> Page<T> {
    /// `total` as counted by SQL (`count(*)`, an `i64`); a negative count is treated as zero.
    pub fn new(data: Vec<T>, limit: u32, offset: u32, total: i64) -> Self {
        Self {
            data,
            page: PageInfo {
                limit,
                offset,
                total: total.max(0) as u64,
            },
        }
    }

    /// Maps the items (rows to DTOs), keeping the page.
    pub fn map<U: ParseFromJSON + ToJSON + Send + Sync>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            page: self.page,
        }
    }
}

/// The total of a page read with `count(*) OVER () AS total` beside its rows (one query for
/// both): the first row's, else `0` on the first page, else — a page past the end, where the
/// window counted nothing — what `count` reads (called only then).
pub async fn window_total<E, F: std::future::Future<Output = Result<i64, E>>>(
    first_row_total: Option<i64>,
    offset: i64,
    count: impl FnOnce() -> F,
) -> Result<i64, E> {
    match first_row_total {
        Some(total) => Ok(total),
        None if offset == 0 => Ok(0),
        None => count().await,
    }
}

/// `%text%` for `ILIKE ... ESCAPE '\'` (Postgres's default escape), with the pattern
/// characters of `text` escaped, so a user's `%` or `_` matches itself.
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
        assert_eq!(super::contains_pattern(""), "%%");
    }

    #[tokio::test]
    async fn a_window_total_is_counted_apart_only_past_the_end() {
        use super::window_total;
        let never = || async { Err::<i64, &str>("not to be counted") };
        assert_eq!(window_total(Some(7), 5, never).await, Ok(7));
        assert_eq!(window_total(None, 0, never).await, Ok(0));
        assert_eq!(window_total(None, 50, || async { Ok::<_, &str>(7) }).await, Ok(7));
    }
}
