//! Facts about the request being served, available anywhere below the host's request
//! middleware (for example to fill a problem's `instance`).

tokio::task_local! {
    static CURRENT: RequestInfo;
}

#[derive(Clone, Debug)]
pub struct RequestInfo {
    pub request_id: String,
    pub path: String,
}

/// Runs `fut` with `info` as the current request.
pub async fn scope<F: std::future::Future>(info: RequestInfo, fut: F) -> F::Output {
    CURRENT.scope(info, fut).await
}

/// The request being served on this task, if any.
pub fn current() -> Option<RequestInfo> {
    CURRENT.try_with(Clone::clone).ok()
}
