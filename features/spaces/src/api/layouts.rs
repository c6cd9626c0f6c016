//! The server-authored layout/dimension/style combinations a space may use.

use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi};
use qubital_plugin::{auth::CookieAuth, AppContext, Page, Problem};

use super::{SpaceListPageRequest, SpacesTag};
use crate::{permissions::LIST_ROOMS, store};

/// A valid layout/dimension/style combination (server-authored).
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SpaceLayout {
    pub layout: String,
    pub dimension: String,
    pub style: String,
}

#[derive(Default)]
pub(crate) struct SpaceLayoutsApi;

#[OpenApi(tag = "SpacesTag::Spaces")]
impl SpaceLayoutsApi {
    /// List space layouts
    ///
    /// The layout/dimension/style combinations a space may use (server-authored).
    ///
    /// Permission: `ListRooms`.
    #[oai(
        path = "/space-layouts/list",
        method = "post",
        operation_id = "list-space-layouts"
    )]
    async fn list_layouts(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<SpaceListPageRequest>,
    ) -> Result<Json<Page<SpaceLayout>>, Problem> {
        auth.0.require(&LIST_ROOMS)?;
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) =
            store::list_layouts(&mut conn, i64::from(body.limit), i64::from(body.offset)).await?;
        let data = rows
            .into_iter()
            .map(|(layout, dimension, style)| SpaceLayout {
                layout,
                dimension,
                style,
            })
            .collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }
}
