//! The fake's OAuth 2.0 authorization server: consent, token and revocation endpoints, with
//! Google's error codes (RFC 6749 §5.2 `{"error", "error_description"}`).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use poem::{handler, http::StatusCode, web::Data, Request, Response};
use serde_json::{json, Value};

use super::{
    param, query_of, Authorization, Consent, Grant, IssuedCode, Shared, State, ACCESS_TOKEN_LIFETIME,
};
use super::{AccessToken, CLIENT_ID, CLIENT_SECRET};
use crate::pkce::challenge_s256;

/// Scopes the fake knows, as Google names them in a granted `scope`: the short `email` and
/// `profile` of a request come back as their `userinfo` URLs.
fn normalize_scope(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "openid",
        "email" | "https://www.googleapis.com/auth/userinfo.email" => {
            "https://www.googleapis.com/auth/userinfo.email"
        }
        "profile" | "https://www.googleapis.com/auth/userinfo.profile" => {
            "https://www.googleapis.com/auth/userinfo.profile"
        }
        "https://www.googleapis.com/auth/calendar" => "https://www.googleapis.com/auth/calendar",
        "https://www.googleapis.com/auth/calendar.events" => {
            "https://www.googleapis.com/auth/calendar.events"
        }
        "https://www.googleapis.com/auth/calendar.readonly" => {
            "https://www.googleapis.com/auth/calendar.readonly"
        }
        "https://www.googleapis.com/auth/calendar.events.readonly" => {
            "https://www.googleapis.com/auth/calendar.events.readonly"
        }
        _ => return None,
    })
}

/// What the consent screen decides, as Google's error code on failure.
pub(super) fn consent(
    state: &mut State,
    query: &[(String, String)],
    consent: &Consent,
) -> Result<Authorization, String> {
    let get = |name| param(query, name);
    if get("client_id") != Some(CLIENT_ID) {
        return Err("invalid_client".into());
    }
    let redirect_uri = get("redirect_uri").unwrap_or_default();
    if !state.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err("redirect_uri_mismatch".into());
    }
    if get("response_type") != Some("code") {
        return Err("unsupported_response_type".into());
    }
    let mut requested = Vec::new();
    for scope in get("scope").unwrap_or_default().split_whitespace() {
        let known = normalize_scope(scope).ok_or_else(|| format!("invalid_scope: {scope}"))?;
        if !requested.contains(&known) {
            requested.push(known);
        }
    }
    if requested.is_empty() {
        return Err("invalid_request: missing scope".into());
    }
    // Google also accepts `online` (no refresh token); the backend's sync needs offline access.
    if get("access_type") != Some("offline") {
        return Err("invalid_request: access_type=offline is required".into());
    }
    // Google also accepts `plain` or no PKCE; the backend must use S256.
    let challenge = get("code_challenge").unwrap_or_default();
    if get("code_challenge_method") != Some("S256")
        || challenge.len() != 43
        || URL_SAFE_NO_PAD.decode(challenge).is_err()
    {
        return Err("invalid_request: PKCE with code_challenge_method=S256 is required".into());
    }
    let granted: Vec<String> = match &consent.granted_scopes {
        None => requested.iter().map(|s| (*s).to_owned()).collect(),
        Some(ticked) => requested
            .iter()
            .filter(|s| ticked.iter().any(|t| normalize_scope(t) == Some(**s)))
            .map(|s| (*s).to_owned())
            .collect(),
    };
    let account = consent.email.to_lowercase();
    state.account_id(&account);
    // Google grants a refresh token when the consent screen was shown: always with
    // `prompt=consent`, otherwise only when the user had no live grant for this client.
    let prompted = get("prompt").is_some_and(|p| p.split_whitespace().any(|p| p == "consent"));
    let had_grant = state.grants.values().any(|g| g.account == account && !g.revoked);
    let code = state.token("4/0fake-");
    state.codes.insert(
        code.clone(),
        IssuedCode {
            redirect_uri: redirect_uri.to_owned(),
            challenge: challenge.to_owned(),
            account,
            scopes: granted.clone(),
            offline: prompted || !had_grant,
        },
    );
    let mut redirect = url::Url::parse(redirect_uri).map_err(|_| "redirect_uri_mismatch".to_owned())?;
    {
        let mut pairs = redirect.query_pairs_mut();
        if let Some(s) = get("state") {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("code", &code);
        pairs.append_pair("scope", &granted.join(" "));
    }
    Ok(Authorization {
        code,
        state: get("state").map(str::to_owned),
        redirect,
    })
}

/// `GET` of the authorization URL: the signed-in user approves and is redirected back, or sees
/// Google's error page.
#[handler]
pub(super) fn consent_page(req: &Request, Data(state): Data<&Shared>) -> Response {
    let query = query_of(req);
    let mut state = state.lock().expect("the fake Google's state");
    let email = state.signed_in.clone();
    match consent(&mut state, &query, &Consent::all(email)) {
        Ok(authorization) => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", authorization.redirect.as_str())
            .finish(),
        Err(error) => Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .content_type("text/html; charset=utf-8")
            .body(format!("<h1>Access blocked: Error 400: {error}</h1>")),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(json!({ "error": error, "error_description": description }).to_string())
}

fn json_response(value: &Value) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .header("cache-control", "no-cache, no-store, max-age=0, must-revalidate")
        .body(value.to_string())
}

fn form_of(req: &Request, body: &[u8]) -> Option<Vec<(String, String)>> {
    let form = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    form.then(|| url::form_urlencoded::parse(body).into_owned().collect())
}

/// An unsigned-looking ID token: the provider reads it without checking the signature, as it
/// may for a token straight from the token endpoint.
fn id_token(state: &mut State, grant: &Grant) -> Option<String> {
    if !grant.scopes.iter().any(|s| s == "openid") {
        return None;
    }
    let sub = state.account_id(&grant.account);
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": "https://accounts.google.com",
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": sub,
        "iat": now,
        "exp": now + ACCESS_TOKEN_LIFETIME,
    });
    if grant
        .scopes
        .iter()
        .any(|s| s == "https://www.googleapis.com/auth/userinfo.email")
    {
        claims["email"] = json!(grant.account);
        claims["email_verified"] = json!(true);
    }
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    Some(format!(
        "{}.{}.{}",
        part(&json!({"alg": "RS256", "kid": "fake", "typ": "JWT"})),
        part(&claims),
        URL_SAFE_NO_PAD.encode(b"not-a-real-signature"),
    ))
}

fn issue_access_token(state: &mut State, grant: u64) -> String {
    let token = state.token("ya29.fake-");
    state.access_tokens.insert(
        token.clone(),
        AccessToken {
            grant,
            expired: false,
        },
    );
    token
}

/// `POST /token`: the `authorization_code` and `refresh_token` grants.
#[handler]
pub(super) fn token_endpoint(req: &Request, body: Vec<u8>, Data(state): Data<&Shared>) -> Response {
    let Some(form) = form_of(req, &body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    };
    let get = |name| param(&form, name);
    if get("client_id") != Some(CLIENT_ID) || get("client_secret") != Some(CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    let mut state = state.lock().expect("the fake Google's state");
    match get("grant_type") {
        Some("authorization_code") => {
            // A code is used once, whatever happens next.
            let Some(code) = get("code").and_then(|c| state.codes.remove(c)) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Malformed auth code.");
            };
            if get("redirect_uri") != Some(code.redirect_uri.as_str()) {
                return oauth_error(StatusCode::BAD_REQUEST, "redirect_uri_mismatch", "Bad Request");
            }
            let Some(verifier) = get("code_verifier") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Missing code verifier.");
            };
            if challenge_s256(verifier) != code.challenge {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid code verifier.");
            }
            let grant_id = state.next();
            let grant = Grant {
                account: code.account,
                scopes: code.scopes,
                revoked: false,
            };
            state.grants.insert(grant_id, grant.clone());
            let access_token = issue_access_token(&mut state, grant_id);
            let mut answer = json!({
                "access_token": access_token,
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "scope": grant.scopes.join(" "),
                "token_type": "Bearer",
            });
            if code.offline {
                let refresh_token = state.token("1//0fake-");
                state.refresh_tokens.insert(refresh_token.clone(), grant_id);
                answer["refresh_token"] = json!(refresh_token);
            }
            if let Some(id_token) = id_token(&mut state, &grant) {
                answer["id_token"] = json!(id_token);
            }
            json_response(&answer)
        }
        Some("refresh_token") => {
            let grant = get("refresh_token")
                .and_then(|t| state.refresh_tokens.get(t).copied())
                .and_then(|id| Some((id, state.grants.get(&id)?.clone())))
                .filter(|(_, grant)| !grant.revoked);
            let Some((grant_id, grant)) = grant else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            };
            let access_token = issue_access_token(&mut state, grant_id);
            let mut answer = json!({
                "access_token": access_token,
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "scope": grant.scopes.join(" "),
                "token_type": "Bearer",
            });
            if let Some(id_token) = id_token(&mut state, &grant) {
                answer["id_token"] = json!(id_token);
            }
            json_response(&answer)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type.",
        ),
    }
}

/// `POST /revoke`: `token` (access or refresh, in the form body or the query) kills its whole
/// grant.
#[handler]
pub(super) fn revoke_endpoint(req: &Request, body: Vec<u8>, Data(state): Data<&Shared>) -> Response {
    let mut params = form_of(req, &body).unwrap_or_default();
    params.extend(query_of(req));
    let token = param(&params, "token").unwrap_or_default().to_owned();
    let mut state = state.lock().expect("the fake Google's state");
    let grant = state
        .refresh_tokens
        .get(&token)
        .copied()
        .or_else(|| state.access_tokens.get(&token).map(|t| t.grant));
    match grant.and_then(|id| state.grants.get_mut(&id)) {
        Some(grant) if !grant.revoked => {
            grant.revoked = true;
            Response::builder()
                .content_type("application/json; charset=utf-8")
                .body("{}")
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        ),
    }
}
