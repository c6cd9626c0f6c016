//! `qubital check`: before traffic arrives, each feature shows that the vendors it was
//! configured for answer, with one harmless call each.

use futures::future::BoxFuture;

use crate::AppContext;

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// The dependency answered; the text says what was asked (`listed 1 organization`).
    Ok(String),
    /// Not configured in this deployment; the text says what is off. Not a failure.
    Disabled(String),
    /// Configured but not answering as it should; the text says why (never a secret).
    Failed(String),
}

impl Probed {
    pub fn is_failed(&self) -> bool {
        matches!(self, Probed::Failed(_))
    }
}

/// Runs the probe: `async fn(&AppContext) -> Probed`, boxed. Register with [`probe!`](crate::probe).
pub type ProbeFn = for<'a> fn(&'a AppContext) -> BoxFuture<'a, Probed>;

/// One dependency a feature reaches (WorkOS, LiveKit, object storage, …) and how to ask it
/// something harmless. The host runs every probe with a timeout; several features naming the
/// same `dependency` are each run (each checks its own client).
#[derive(Clone, Copy)]
pub struct Probe {
    /// Short name printed first on the line (`workos`, `livekit`).
    pub dependency: &'static str,
    pub run: ProbeFn,
}

impl Probe {
    pub const fn new(dependency: &'static str, run: ProbeFn) -> Self {
        Self { dependency, run }
    }
}

/// Declares a [`Probe`] from an `async fn(&AppContext) -> Probed`:
///
/// ```ignore
/// pub const STORAGE: Probe = qubital_plugin::probe!("storage", head_bucket);
/// ```
#[macro_export]
macro_rules! probe {
    ($dependency:expr, $run:path) => {
        $crate::probe::Probe::new($dependency, |ctx| ::std::boxed::Box::pin($run(ctx)))
    };
}
