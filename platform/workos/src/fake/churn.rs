//! A long, deterministic history of changes, for tests and benchmarks of WorkOS mirrors.

use serde_json::json;

use super::FakeWorkos;

impl FakeWorkos {
    /// Makes `steps` pseudo-random changes (the same ones for the same `seed` and starting
    /// state): organizations, users and memberships created, renamed, re-roled, deactivated and
    /// deleted, and now and then an event of a type a mirror does not follow
    /// (`dsync.activated`). Each change is recorded as its event.
    pub fn churn(&self, steps: usize, seed: u64) {
        let mut state = seed;
        let mut next = move |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % n.max(1)
        };
        for step in 0..steps {
            // Ids grow with creation, so these lists (and the choices) are deterministic.
            let orgs: Vec<String> = self.organizations().into_iter().map(|(id, _)| id).collect();
            let users: Vec<String> = self.users().into_iter().map(|u| u.id).collect();
            let memberships = self.memberships();
            match next(100) {
                0..=7 => {
                    self.create_organization(&format!("Org {step}"));
                }
                8..=27 => {
                    self.create_user(&format!("user{step}@example.com"));
                }
                28..=47 if !orgs.is_empty() && !users.is_empty() => {
                    let (user, org) = (&users[next(users.len())], &orgs[next(orgs.len())]);
                    let exists = memberships
                        .iter()
                        .any(|m| &m.user_id == user && &m.organization_id == org);
                    if !exists {
                        let role = ["member", "moderator", "admin", "guest"][next(4)];
                        self.add_membership(user, org, role);
                    }
                }
                48..=62 if !orgs.is_empty() => {
                    self.rename_organization(&orgs[next(orgs.len())], &format!("Renamed {step}"))
                }
                63..=75 if !users.is_empty() => {
                    self.rename_user(&users[next(users.len())], &format!("Name{step}"))
                }
                76..=87 if !memberships.is_empty() => {
                    let status = if next(4) == 0 { "inactive" } else { "active" };
                    self.update_membership(
                        &memberships[next(memberships.len())].id,
                        ["member", "moderator", "admin"][next(3)],
                        status,
                    )
                }
                88..=92 if !memberships.is_empty() => {
                    self.delete_membership(&memberships[next(memberships.len())].id)
                }
                93..=95 if users.len() > 3 => self.delete_user(&users[next(users.len())]),
                96 if orgs.len() > 3 => self.delete_organization(&orgs[next(orgs.len())]),
                97 => {
                    self.record_event(
                        "dsync.activated",
                        json!({"object": "directory", "id": "directory_1"}),
                    );
                }
                _ => {}
            }
        }
    }
}
