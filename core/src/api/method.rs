//! The API's methods, defined once: their Gigya names, who may call them and whether they
//! carry a photo. Every face (C, Python, Node, the CLI, REST's authentication) reads this
//! table instead of keeping a list of its own.

/// One method of SPEC.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    ImportProfilePhoto,
    SetProfilePhoto,
    PublishProfilePhoto,
    RemoveProfilePhoto,
    GetAccountInfo,
    InitRegistration,
    FinalizeRegistration,
    GetPolicies,
    SetPolicies,
    NotifyLogin,
    Logout,
}

/// Who may call a method, by how the caller proves itself (SPEC.md "REST endpoint").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Server code holding the site's secret (sent, or used to sign). Every method.
    pub secret: bool,
    /// A browser or app holding only the public apiKey and a `regToken` it was given.
    pub reg_token: bool,
    /// A browser holding a logged-in user's session (acts for that user only).
    pub session: bool,
    /// Anyone holding the site's public apiKey and nothing else (a registration page). Its
    /// cost, pending accounts made by strangers, is bounded by purge, which deletes those
    /// never finalized once their regToken has expired.
    pub public_api_key: bool,
}

/// The photo a method takes, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoInput {
    /// Fetched from the `URL` parameter.
    Url,
    /// The file itself (`photoBytes` in Gigya's wire format).
    Bytes,
}

struct Entry {
    method: Method,
    /// The Gigya name, without the namespace.
    name: &'static str,
    /// Other names Gigya accepts for the same method.
    aliases: &'static [&'static str],
    access: Access,
    photo: Option<PhotoInput>,
}

const NAMESPACE: &str = "accounts";

const SERVER: Access = Access {
    secret: true,
    reg_token: false,
    session: false,
    public_api_key: false,
};
/// A user's own account: their regToken during registration, or their session.
const USER: Access = Access {
    secret: true,
    reg_token: true,
    session: true,
    public_api_key: false,
};

const TABLE: [Entry; 11] = [
    Entry {
        method: Method::ImportProfilePhoto,
        name: "importProfilePhoto",
        aliases: &[],
        access: USER,
        photo: Some(PhotoInput::Url),
    },
    Entry {
        method: Method::SetProfilePhoto,
        name: "setProfilePhoto",
        aliases: &["uploadProfilePhoto"],
        access: USER,
        photo: Some(PhotoInput::Bytes),
    },
    Entry {
        method: Method::PublishProfilePhoto,
        name: "publishProfilePhoto",
        aliases: &[],
        access: USER,
        photo: None,
    },
    Entry {
        method: Method::RemoveProfilePhoto,
        name: "removeProfilePhoto",
        aliases: &[],
        access: USER,
        photo: None,
    },
    Entry {
        method: Method::GetAccountInfo,
        name: "getAccountInfo",
        aliases: &[],
        access: USER,
        photo: None,
    },
    Entry {
        method: Method::InitRegistration,
        name: "initRegistration",
        aliases: &[],
        // As Gigya: a registration page starts with the apiKey alone.
        access: Access {
            secret: true,
            reg_token: false,
            session: false,
            public_api_key: true,
        },
        photo: None,
    },
    Entry {
        method: Method::FinalizeRegistration,
        name: "finalizeRegistration",
        aliases: &[],
        // The regToken is the method's own parameter; a session has nothing to finalize.
        access: Access {
            secret: true,
            reg_token: true,
            session: false,
            public_api_key: false,
        },
        photo: None,
    },
    Entry {
        method: Method::GetPolicies,
        name: "getPolicies",
        aliases: &[],
        access: SERVER,
        photo: None,
    },
    Entry {
        method: Method::SetPolicies,
        name: "setPolicies",
        aliases: &[],
        access: SERVER,
        photo: None,
    },
    Entry {
        method: Method::NotifyLogin,
        name: "notifyLogin",
        aliases: &[],
        // The site's server says who logged in; the session it gets goes to the browser.
        access: SERVER,
        photo: None,
    },
    Entry {
        method: Method::Logout,
        name: "logout",
        aliases: &[],
        // The session ends itself, or the site's server ends all of a user's sessions.
        access: Access {
            secret: true,
            reg_token: false,
            session: true,
            public_api_key: false,
        },
        photo: None,
    },
];

impl Method {
    /// Every method, in SPEC.md's order.
    pub const ALL: [Method; 11] = [
        Method::ImportProfilePhoto,
        Method::SetProfilePhoto,
        Method::PublishProfilePhoto,
        Method::RemoveProfilePhoto,
        Method::GetAccountInfo,
        Method::InitRegistration,
        Method::FinalizeRegistration,
        Method::GetPolicies,
        Method::SetPolicies,
        Method::NotifyLogin,
        Method::Logout,
    ];

    /// The method a Gigya name stands for: any case, with or without `accounts.`, aliases
    /// included (`accounts.uploadProfilePhoto` is `SetProfilePhoto`).
    pub fn from_name(name: &str) -> Option<Method> {
        let short = match name.split_once('.') {
            Some((ns, short)) if ns.eq_ignore_ascii_case(NAMESPACE) => short,
            Some(_) => return None,
            None => name,
        };
        TABLE
            .iter()
            .find(|e| {
                e.name.eq_ignore_ascii_case(short)
                    || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(short))
            })
            .map(|e| e.method)
    }

    fn entry(self) -> &'static Entry {
        // TABLE is in the order of the enum (a unit test holds it there).
        &TABLE[self as usize]
    }

    /// The full Gigya name, e.g. `accounts.importProfilePhoto`.
    pub fn name(self) -> String {
        format!("{NAMESPACE}.{}", self.entry().name)
    }

    /// The name within its namespace, e.g. `importProfilePhoto`.
    pub fn short_name(self) -> &'static str {
        self.entry().name
    }

    pub fn namespace(self) -> &'static str {
        NAMESPACE
    }

    /// Other names of the method (`uploadProfilePhoto`).
    pub fn aliases(self) -> &'static [&'static str] {
        self.entry().aliases
    }

    pub fn access(self) -> Access {
        self.entry().access
    }

    pub fn photo(self) -> Option<PhotoInput> {
        self.entry().photo
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{NAMESPACE}.{}", self.short_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_follows_the_enum() {
        for (i, m) in Method::ALL.iter().enumerate() {
            assert_eq!(TABLE[i].method, *m);
            assert_eq!(*m as usize, i);
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            Method::from_name("accounts.importProfilePhoto"),
            Some(Method::ImportProfilePhoto)
        );
        assert_eq!(
            Method::from_name("accounts.uploadProfilePhoto"),
            Some(Method::SetProfilePhoto)
        );
        assert_eq!(
            Method::from_name("ACCOUNTS.GETPOLICIES"),
            Some(Method::GetPolicies)
        );
        assert_eq!(
            Method::from_name("getAccountInfo"),
            Some(Method::GetAccountInfo)
        );
        assert_eq!(Method::from_name("accounts.deleteAccount"), None);
        assert_eq!(Method::from_name("socialize.getPolicies"), None);
        assert_eq!(Method::from_name(""), None);
        for m in Method::ALL {
            assert_eq!(Method::from_name(&m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
    }

    #[test]
    fn only_the_users_own_methods_take_a_reg_token() {
        let browser: Vec<_> = Method::ALL
            .into_iter()
            .filter(|m| m.access().reg_token)
            .collect();
        assert!(!browser.contains(&Method::SetPolicies));
        assert!(!browser.contains(&Method::InitRegistration));
        assert!(browser.contains(&Method::FinalizeRegistration));
        assert!(Method::ALL.iter().all(|m| m.access().secret));
    }

    #[test]
    fn only_init_registration_takes_the_api_key_alone() {
        let public: Vec<_> = Method::ALL
            .into_iter()
            .filter(|m| m.access().public_api_key)
            .collect();
        assert_eq!(public, [Method::InitRegistration]);
    }
}
