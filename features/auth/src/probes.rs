//! What `qubital check` asks WorkOS: one organization, which shows the key is accepted.

use platform_workos::Workos;
use qubital_plugin::{AppContext, Probe, Probed};

pub const WORKOS: Probe = qubital_plugin::probe!("workos", list_one_organization);

async fn list_one_organization(ctx: &AppContext) -> Probed {
    let workos = ctx.get::<Workos>();
    if !workos.is_enabled() {
        return Probed::Disabled("WORKOS_API_KEY or WORKOS_CLIENT_ID is unset".into());
    }
    match workos.list_one_organization().await {
        Ok(count) => Probed::Ok(format!("listed {count} organization(s)")),
        Err(error) => Probed::Failed(error.to_string()),
    }
}
