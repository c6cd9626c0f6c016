//! The Spaces operations (tag `Spaces`), one `#[OpenApi]` type per resource: spaces
//! ([`spaces`]), the layout set ([`layouts`]) and tags ([`tags`]). Here: what they share.

mod layouts;
mod spaces;
mod tags;

use poem_openapi::{ApiResponse, Object, Tags};
use uuid::Uuid;

pub(crate) use layouts::SpaceLayoutsApi;
pub(crate) use spaces::SpacesApi;
pub(crate) use tags::SpaceTagsApi;

#[derive(Tags)]
enum SpacesTag {
    /// The persistent 2D environments of the organization, the layouts they may use, and
    /// their tags.
    Spaces,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SpaceListPageRequest {
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    #[oai(default)]
    offset: u32,
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

/// `ids` without repetitions, in their first order.
fn dedup(ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}
