//! The one value a feature registers.

use std::collections::HashMap;

use poem::{endpoint::BoxEndpoint, http::Method};
use poem_openapi::{
    registry::{MetaApi, Registry},
    OpenApi,
};
use sqlx::migrate::Migrator;

use crate::{context::Boot, jobs::Job, probe::Probe, tables::Table, ProcessRole};

/// Builds a feature's runtime state (clients, caches) once at boot and stores it in the
/// [`AppContext`](crate::AppContext) with [`Boot::provide`].
pub type InitFn = fn(&mut Boot) -> anyhow::Result<()>;

/// A feature's registration with the host.
///
/// Built with the `const` methods below so it can live in a `static` created by
/// [`inventory::submit!`].
pub struct Feature {
    /// Short lower-case name, also the folder of its migrations (`migrations/<name>/`).
    pub name: &'static str,
    pub apis: &'static [Api],
    pub migrations: Option<&'static Migrator>,
    pub jobs: &'static [Job],
    pub settings: &'static [Settings],
    pub init: Option<InitFn>,
    /// The tables its migrations create, each with its retention rule.
    pub tables: &'static [Table],
    /// Process roles it adds to the binary (a worker's subcommand), besides `serve`.
    pub roles: &'static [ProcessRole],
    /// What `qubital check` asks the vendors it was configured for.
    pub probes: &'static [Probe],
}

impl Feature {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            apis: &[],
            migrations: None,
            jobs: &[],
            settings: &[],
            init: None,
            tables: &[],
            roles: &[],
            probes: &[],
        }
    }

    pub const fn apis(mut self, apis: &'static [Api]) -> Self {
        self.apis = apis;
        self
    }

    pub const fn migrations(mut self, migrations: &'static Migrator) -> Self {
        self.migrations = Some(migrations);
        self
    }

    pub const fn jobs(mut self, jobs: &'static [Job]) -> Self {
        self.jobs = jobs;
        self
    }

    pub const fn settings(mut self, settings: &'static [Settings]) -> Self {
        self.settings = settings;
        self
    }

    pub const fn init(mut self, init: InitFn) -> Self {
        self.init = Some(init);
        self
    }

    pub const fn tables(mut self, tables: &'static [Table]) -> Self {
        self.tables = tables;
        self
    }

    pub const fn roles(mut self, roles: &'static [ProcessRole]) -> Self {
        self.roles = roles;
        self
    }

    pub const fn probes(mut self, probes: &'static [Probe]) -> Self {
        self.probes = probes;
        self
    }

    /// Applies this feature's retention rules now (what the housekeeping job does hourly).
    pub async fn prune_expired(
        &self,
        db: &sqlx::PgPool,
        stop: impl Fn() -> bool,
    ) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
        crate::tables::prune_tables(db, self.tables, stop).await
    }
}

/// The route table poem-openapi fills in [`OpenApi::add_routes`].
pub type RouteTable = HashMap<String, HashMap<Method, BoxEndpoint<'static>>>;

/// A poem-openapi API, captured as the three functions of its (static) `OpenApi` impl.
#[derive(Clone, Copy)]
pub struct Api {
    pub meta: fn() -> Vec<MetaApi>,
    pub register: fn(&mut Registry),
    pub add_routes: fn(&mut RouteTable),
    /// Served (and documented) only when the process runs in development.
    pub development_only: bool,
}

impl Api {
    /// Captures `T`'s OpenAPI description and routes. `T` is usually a unit struct whose
    /// handlers reach shared state through `poem::web::Data<&AppContext>`.
    pub const fn of<T: OpenApi + Default>() -> Self {
        Self {
            meta: T::meta,
            register: T::register,
            add_routes: add_routes::<T>,
            development_only: false,
        }
    }

    /// Marks the API as existing only in development: absent from the routes and the spec in
    /// production.
    pub const fn development_only(mut self) -> Self {
        self.development_only = true;
        self
    }
}

fn add_routes<T: OpenApi + Default>(table: &mut RouteTable) {
    T::default().add_routes(table);
}

/// A feature's settings: a `clap::Args` struct whose fields are read from environment variables
/// (and flags). The host adds them to the CLI, so `qubital --help` lists every setting, and
/// stores the parsed value in the [`AppContext`](crate::AppContext) for the feature to read.
#[derive(Clone, Copy)]
pub struct Settings {
    pub augment: fn(clap::Command) -> clap::Command,
    pub extract: fn(&clap::ArgMatches, &mut http::Extensions) -> Result<(), clap::Error>,
    /// The parsed struct's `Debug` (which must redact its secrets: the host's tests check every
    /// registered struct with every hidden setting set).
    pub debug: fn(&clap::ArgMatches) -> Result<String, clap::Error>,
}

impl Settings {
    pub const fn of<T>() -> Self
    where
        T: clap::Args + clap::FromArgMatches + Clone + std::fmt::Debug + Send + Sync + 'static,
    {
        Self {
            augment: T::augment_args,
            extract: extract::<T>,
            debug: debug::<T>,
        }
    }
}

fn extract<T>(matches: &clap::ArgMatches, into: &mut http::Extensions) -> Result<(), clap::Error>
where
    T: clap::FromArgMatches + Clone + Send + Sync + 'static,
{
    into.insert(T::from_arg_matches(matches)?);
    Ok(())
}

fn debug<T>(matches: &clap::ArgMatches) -> Result<String, clap::Error>
where
    T: clap::FromArgMatches + std::fmt::Debug,
{
    Ok(format!("{:?}", T::from_arg_matches(matches)?))
}
