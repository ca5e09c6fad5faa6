//! Login sessions (`accounts.notifyLogin`, `accounts.logout`): a signed token that names
//! one user of one site (token.rs, tag `s1`), valid until it expires or is ended. Ending is
//! a record in the metadata store, so a logout holds in every process sharing the store
//! and after restarts; purge drops records once the sessions they end have expired.

use super::client::Client;
use super::internals::{check_uid, new_uid, ttl_ms};
use super::types::{Identity, LoginSession};
use crate::error::{Error, Result};
use crate::store::{AccountRecord, SessionEnd};
use crate::token::SessionClaims;

impl Client {
    /// `accounts.notifyLogin`: the site's server says `site_uid` logged in; the session
    /// it gets back is the cookie its pages set. The account is created when absent.
    pub async fn notify_login(&self, site_uid: &str) -> Result<LoginSession> {
        self.inner
            .life
            .track(async {
                if site_uid.is_empty() {
                    return Err(Error::missing("siteUID"));
                }
                check_uid(site_uid)?;
                let now = self.now_ms();
                self.inner.meta.ensure_account(site_uid, now).await?;
                let claims = SessionClaims {
                    session_id: new_uid()?,
                    uid: site_uid.to_string(),
                    issued_ms: now,
                    expires_ms: now.saturating_add(ttl_ms(self.inner.config.session_ttl_secs)),
                };
                Ok(LoginSession {
                    uid: site_uid.to_string(),
                    cookie_name: self.session_cookie_name(),
                    cookie_value: self.inner.tokens.issue_session(&claims),
                })
            })
            .await
    }

    /// `accounts.logout`: a session ends itself; a UID (the site's server) ends every
    /// session of that user issued until now. Returns the UID.
    pub async fn logout(&self, who: &Identity) -> Result<String> {
        self.inner
            .life
            .track(async {
                match who {
                    Identity::Session(token) => {
                        let claims = self.live_session(token).await?;
                        let end = SessionEnd::One {
                            session_id: claims.session_id,
                        };
                        self.inner
                            .meta
                            .end_sessions(&end, claims.expires_ms)
                            .await?;
                        Ok(claims.uid)
                    }
                    Identity::Uid(uid) => {
                        check_uid(uid)?;
                        let now = self.now_ms();
                        // Every session issued until now expires before this: the record
                        // may go then.
                        let expires =
                            now.saturating_add(ttl_ms(self.inner.config.session_ttl_secs));
                        let end = SessionEnd::AllOf {
                            uid: uid.clone(),
                            at_ms: now,
                        };
                        self.inner.meta.end_sessions(&end, expires).await?;
                        Ok(uid.clone())
                    }
                    Identity::RegToken(_) => Err(Error::invalid(
                        "regToken",
                        "logout takes a login_token or a UID",
                    )),
                }
            })
            .await
    }

    /// The cookie the site's pages keep the session in: `glt_<apiKey>` (Gigya's name).
    pub fn session_cookie_name(&self) -> String {
        format!("glt_{}", self.inner.config.token_scope())
    }

    /// The account of a session token; 403005 when forged, of another site, expired or
    /// ended, or when the account is gone.
    pub(super) async fn session_account(&self, token: &str) -> Result<AccountRecord> {
        let claims = self.live_session(token).await?;
        self.inner
            .meta
            .account(&claims.uid)
            .await?
            .ok_or_else(|| Error::unauthorized("Invalid session: unknown account"))
    }

    async fn live_session(&self, token: &str) -> Result<SessionClaims> {
        let now = self.now_ms();
        let claims = self.inner.tokens.verify_session(token, now)?;
        // The TTL in force now bounds every session, whatever its token says: end records
        // are kept for that long only, so a session issued under a longer TTL must not
        // outlive them (a logout would come undone once purge drops its record).
        let ttl = ttl_ms(self.inner.config.session_ttl_secs);
        if now >= claims.issued_ms.saturating_add(ttl) {
            return Err(Error::unauthorized("Invalid session: expired"));
        }
        if self
            .inner
            .meta
            .session_ended(&claims.session_id, &claims.uid, claims.issued_ms)
            .await?
        {
            return Err(Error::unauthorized("Invalid session: ended by logout"));
        }
        Ok(claims)
    }
}
