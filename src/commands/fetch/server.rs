//! Where `vibes fetch` finds the rsync daemon: the server instance's address as AWS reports it,
//! or what `--server` says (a tunnel, a bastion's forwarded port, a local emulator).

use std::fmt;
use std::str::FromStr;

/// An rsync daemon to pull from: a host (a name, an IPv4 address, or an IPv6 address kept without
/// its brackets) and the port when it is not rsync's own (873).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsyncServer {
    host: String,
    port: Option<u16>,
}

impl RsyncServer {
    /// The server at `ip` on rsync's own port: how the server instance is reached.
    pub fn at_ip(ip: &str) -> Self {
        RsyncServer {
            host: ip.to_string(),
            port: None,
        }
    }

    /// `rsync://HOST[:PORT]/PROFILE/`: the profile's module. The trailing slash pulls the module's
    /// content, not a directory named after it.
    pub fn module_url(&self, profile: &str) -> String {
        format!("{self}{profile}/")
    }
}

/// `rsync://HOST[:PORT]/`, with an IPv6 host in brackets.
impl fmt::Display for RsyncServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "rsync://[{}]", self.host)?,
            false => write!(f, "rsync://{}", self.host)?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}/"),
            None => write!(f, "/"),
        }
    }
}

/// Why a `--server` value names no server. Each says what form is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    #[error("no host given; expected rsync://HOST[:PORT]/ or HOST[:PORT]")]
    NoHost,
    #[error("only rsync:// URLs name an rsync daemon, not {scheme}://")]
    Scheme { scheme: String },
    #[error("`{rest}` after the server: give the server only (rsync://HOST:PORT/); the profile is vibes fetch's first argument")]
    Path { rest: String },
    #[error("`{port}` is not a port (1 to 65535)")]
    Port { port: String },
    #[error("`{host}` is not a host name or address")]
    Host { host: String },
    #[error("an IPv6 address with a port goes in brackets: [{host}]:PORT")]
    Brackets { host: String },
}

impl FromStr for RsyncServer {
    type Err = ServerError;

    /// `rsync://HOST[:PORT][/]`, `HOST[:PORT]`, `[IPV6][:PORT]` or a bare IPv6 address.
    fn from_str(given: &str) -> Result<Self, ServerError> {
        let given = given.trim();
        let authority = match given.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("rsync") => {
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                if !path.is_empty() {
                    return Err(ServerError::Path {
                        rest: format!("/{path}"),
                    });
                }
                authority
            }
            Some((scheme, _)) => {
                return Err(ServerError::Scheme {
                    scheme: scheme.to_string(),
                })
            }
            None => given.strip_suffix('/').unwrap_or(given),
        };
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(ServerError::NoHost);
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%');
        if !host.chars().all(plain) || host.starts_with('-') {
            return Err(ServerError::Host {
                host: host.to_string(),
            });
        }
        let port = port
            .map(|p| match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(ServerError::Port {
                    port: p.to_string(),
                }),
            })
            .transpose()?;
        Ok(RsyncServer {
            host: host.to_string(),
            port,
        })
    }
}

/// `[v6]:port`, `[v6]`, `host:port`, `host`, or a bare IPv6 address (more than one `:`, no port).
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), ServerError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| ServerError::Host {
            host: authority.to_string(),
        })?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(ServerError::Host {
                    host: authority.to_string(),
                }),
            },
        };
    }
    match authority.matches(':').count() {
        0 => Ok((authority, None)),
        1 => {
            let (host, port) = authority.split_once(':').expect("one colon");
            Ok((host, Some(port)))
        }
        // Only an IPv6 address has more than one `:`; a port after one needs brackets.
        _ => match authority.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok((authority, None)),
            Err(_) => Err(ServerError::Brackets {
                host: authority.to_string(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> String {
        s.parse::<RsyncServer>()
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    #[test]
    fn every_documented_form_names_the_same_kind_of_server() {
        assert_eq!(parsed("rsync://127.0.0.1:8873/"), "rsync://127.0.0.1:8873/");
        assert_eq!(
            parsed("rsync://music.example.org"),
            "rsync://music.example.org/"
        );
        assert_eq!(parsed("localhost:8873"), "rsync://localhost:8873/");
        assert_eq!(parsed("localhost"), "rsync://localhost/");
        assert_eq!(parsed("10.0.1.5/"), "rsync://10.0.1.5/");
        assert_eq!(parsed("[::1]:8873"), "rsync://[::1]:8873/");
        assert_eq!(parsed("[2001:db8::1]"), "rsync://[2001:db8::1]/");
        assert_eq!(parsed("rsync://[::1]:873/"), "rsync://[::1]:873/");
        assert_eq!(parsed("2001:db8::1"), "rsync://[2001:db8::1]/");
    }

    #[test]
    fn a_server_names_its_profile_modules() {
        let s: RsyncServer = "127.0.0.1:8873".parse().unwrap();
        assert_eq!(s.module_url("phone"), "rsync://127.0.0.1:8873/phone/");
        assert_eq!(
            RsyncServer::at_ip("2001:db8::1").module_url("p"),
            "rsync://[2001:db8::1]/p/"
        );
        assert_eq!(
            RsyncServer::at_ip("203.0.113.7").module_url("archive"),
            "rsync://203.0.113.7/archive/"
        );
    }

    #[test]
    fn what_names_no_server_is_refused_with_the_form_expected() {
        for (given, why) in [
            ("", ServerError::NoHost),
            ("rsync://", ServerError::NoHost),
            (":8873", ServerError::NoHost),
            (
                "http://127.0.0.1:8873/",
                ServerError::Scheme {
                    scheme: "http".into(),
                },
            ),
            (
                "rsync://127.0.0.1:8873/phone/",
                ServerError::Path {
                    rest: "/phone/".into(),
                },
            ),
            ("host:0", ServerError::Port { port: "0".into() }),
            (
                "host:99999",
                ServerError::Port {
                    port: "99999".into(),
                },
            ),
            ("host:", ServerError::Port { port: "".into() }),
            (
                "2001:db8::1:8873x",
                ServerError::Brackets {
                    host: "2001:db8::1:8873x".into(),
                },
            ),
            (
                "bad host",
                ServerError::Host {
                    host: "bad host".into(),
                },
            ),
            (
                "-oProxyCommand=x",
                ServerError::Host {
                    host: "-oProxyCommand=x".into(),
                },
            ),
        ] {
            assert_eq!(given.parse::<RsyncServer>(), Err(why), "{given:?}");
        }
    }
}
