//! Who is asking: the bearer token resolved to the admin or an account, and
//! the keys the node may sign with on their behalf.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kith_node::ingest::{Origin, Verdict};
use kith_node::protocol::{Event, Keypair, Kind, PublicKey, UnsignedEvent};

use crate::accounts::{Account, TokenOwner};
use crate::error::{ApiError, ApiResult};
use crate::server::AppState;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Admin or account.
    pub(crate) owner: TokenOwner,
    /// The identity the caller speaks for.
    pub(crate) identity: PublicKey,
    /// The account record (accounts only).
    pub(crate) account: Option<Account>,
    /// The bearer token, to end the session on logout.
    pub(crate) token: String,
}

/// A caller if a token was sent, or nobody. A token that is sent but is
/// not valid is still refused (401), so a client learns its session ended.
#[derive(Debug, Clone)]
pub(crate) struct MaybeCaller(pub(crate) Option<Caller>);

pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl Caller {
    /// Resolves a token.
    pub(crate) async fn resolve(state: &AppState, token: &str) -> ApiResult<Caller> {
        let (accounts, token_owned) = (state.accounts.clone(), token.to_string());
        // The admin token is a digest comparison, no database read: no
        // hop to the blocking pool for the CLI's every request.
        let resolved = if crate::accounts::is_admin_token(token) {
            (
                accounts
                    .resolve(token, kith_node::now_ms())
                    .map_err(ApiError::internal)?,
                None,
            )
        } else {
            Self::resolve_session(accounts, token_owned).await?
        };
        match resolved {
            (Some(TokenOwner::Admin), _) => Ok(Caller {
                owner: TokenOwner::Admin,
                identity: state.node.identity().public(),
                account: None,
                token: token.to_string(),
            }),
            (Some(owner @ TokenOwner::Account(_)), Some(account)) => Ok(Caller {
                owner,
                identity: account.identity,
                account: Some(account),
                token: token.to_string(),
            }),
            _ => Err(ApiError::unauthorized()),
        }
    }

    /// A session token's owner and account, read on the blocking pool.
    async fn resolve_session(
        accounts: crate::accounts::Accounts,
        token: String,
    ) -> ApiResult<(Option<TokenOwner>, Option<Account>)> {
        tokio::task::spawn_blocking(move || {
            let owner = accounts.resolve(&token, kith_node::now_ms())?;
            let account = match &owner {
                Some(TokenOwner::Account(name)) => accounts.get(name)?,
                _ => None,
            };
            Ok::<_, crate::accounts::AccountError>((owner, account))
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }

    /// Whether this is the local admin.
    pub(crate) fn is_admin(&self) -> bool {
        self.owner == TokenOwner::Admin
    }

    /// The account, or 403 for the admin (account-only operations).
    pub(crate) fn account(&self) -> ApiResult<&Account> {
        self.account.as_ref().ok_or_else(|| {
            ApiError::forbidden(
                "not_an_account",
                "this operation is for hosted accounts; the admin token speaks for the node",
            )
        })
    }

    /// The root key the node holds for this caller, if any.
    pub(crate) fn root_key(&self, state: &AppState) -> Option<Keypair> {
        match &self.account {
            None => Keypair::from_seed(&state.node.identity().seed()).ok(),
            Some(a) => a.root(),
        }
    }

    /// The key the node signs `kind` with for this caller: the gateway's
    /// delegated key when it covers the kind and is still in force, else
    /// the root key when the node holds it.
    pub(crate) fn signing_key(&self, state: &AppState, kind: Kind) -> ApiResult<Keypair> {
        if let Some(account) = &self.account
            && kind.delegable()
            && let Some(d) = &account.delegate
            && d.expires_at > kith_node::now_ms()
            && delegation_live(state, &account.identity, &d.delegation)
            && let Some(key) = account.delegate()
        {
            return Ok(key);
        }
        self.root_key(state).ok_or_else(|| {
            ApiError::forbidden(
                "signing_key_missing",
                format!(
                    "this node holds no key that may sign `{kind}` for you; sign it yourself and \
                     POST it to /api/v1/events"
                ),
            )
        })
    }

    /// Signs `draft` with the right key and ingests it through the node's
    /// pipeline; refusals come back as errors and nothing is stored.
    pub(crate) async fn publish(
        &self,
        state: &AppState,
        draft: impl FnOnce(PublicKey, PublicKey) -> ApiResult<UnsignedEvent>,
        kind: Kind,
    ) -> ApiResult<(Event, Verdict)> {
        let key = self.signing_key(state, kind)?;
        let unsigned = draft(self.identity, key.public())?;
        let event = unsigned.sign(&key).map_err(|e| match e {
            kith_node::protocol::SignError::Invalid(e) => ApiError::event(&e),
            other => ApiError::internal(other),
        })?;
        let verdict = ingest(state, event.as_bytes().to_vec()).await?;
        Ok((event, verdict))
    }
}

/// Hands an envelope to the node's ingest pipeline as a local event; a
/// refusal comes back as the error the API shows.
pub(crate) async fn ingest(state: &AppState, envelope: Vec<u8>) -> ApiResult<Verdict> {
    let verdict = state.node.ingest().submit(envelope, Origin::Local).await;
    match ApiError::from_verdict(&verdict) {
        Some(e) => Err(e),
        None => Ok(verdict),
    }
}

/// Whether the delegation with this id (text) is stored and not revoked.
pub(crate) fn delegation_live(state: &AppState, author: &PublicKey, id: &str) -> bool {
    state
        .node
        .store()
        .reader()
        .delegations(author)
        .map(|ds| ds.iter().any(|d| d.id.to_string() == id && !d.revoked))
        .unwrap_or(false)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts)
            .ok_or_else(ApiError::unauthorized)?
            .to_string();
        let caller = Caller::resolve(state, &token).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if bearer(parts).is_none() {
            return Ok(MaybeCaller(None));
        }
        Ok(MaybeCaller(Some(
            Caller::from_request_parts(parts, state).await?,
        )))
    }
}
