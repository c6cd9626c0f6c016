//! Facts about the request being served, available anywhere below the host's request
//! middleware (for example to fill a problem's `instance`).

tokio::task_local! {
    static CURRENT: RequestInfo;
}

/// The client's IP address as the host determined it (the socket peer, or the entry of
/// `X-Forwarded-For` added by the outermost trusted proxy: `TRUSTED_PROXY_HOPS` counted from
/// the right, never the client-chosen first entry). Read it with `req.data::<ClientIp>()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

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
