//! The operations: tokens for the realtime transports and the office-router's JWKS (tag
//! `Realtime`), and what the office-router Worker asks (tag `Worker`, behind `workerAuth`).

mod tokens;
mod worker;

pub(crate) use tokens::conference_grants;
pub(crate) use tokens::RealtimeApi;
pub(crate) use worker::WorkerApi;
