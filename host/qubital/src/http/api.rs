//! One `OpenApi` implementation over every registered feature's API.

use poem_openapi::{
    registry::{MetaApi, Registry},
    OpenApi,
};
use qubital_plugin::{feature::RouteTable, registered_features, Api};

/// All feature APIs compiled into this binary. `DEV` selects whether development-only APIs are
/// included; the spec and the routes are built from the same list, so they cannot disagree.
#[derive(Default)]
pub struct FeatureApis<const DEV: bool>;

fn apis<const DEV: bool>() -> impl Iterator<Item = &'static Api> {
    registered_features()
        .into_iter()
        .flat_map(|f| f.apis.iter())
        .filter(|api| DEV || !api.development_only)
}

impl<const DEV: bool> OpenApi for FeatureApis<DEV> {
    fn meta() -> Vec<MetaApi> {
        apis::<DEV>().flat_map(|api| (api.meta)()).collect()
    }

    fn register(registry: &mut Registry) {
        apis::<DEV>().for_each(|api| (api.register)(registry));
    }

    fn add_routes(self, route_table: &mut RouteTable) {
        apis::<DEV>().for_each(|api| (api.add_routes)(route_table));
    }
}
