//! Every error a command can answer with, worded exactly as Redis words it.

/// A command's failure; `Display` gives the full RESP error text, code prefix included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand { name: String, args: String },
    #[error("ERR unknown subcommand '{sub}'. Try {container} HELP.")]
    UnknownSubcommand { container: String, sub: String },
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR This instance has cluster support disabled")]
    ClusterDisabled,
    /// Any other error; the text carries its own code prefix (`ERR …`, `NOPROTO …`).
    #[error("{0}")]
    Other(String),
}

impl CmdError {
    /// An `ERR`-prefixed error with a free-form message.
    pub fn err(msg: impl std::fmt::Display) -> CmdError {
        CmdError::Other(format!("ERR {msg}"))
    }

    /// The unknown-command error, quoting the first arguments as Redis does (up to 128 bytes).
    pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> CmdError {
        let mut quoted = String::new();
        for arg in args {
            if quoted.len() >= 128 {
                break;
            }
            let room = 128 - quoted.len();
            let text = String::from_utf8_lossy(&arg[..arg.len().min(room)]).into_owned();
            quoted.push_str(&format!("'{text}' "));
        }
        CmdError::UnknownCommand {
            name: truncated(name, 128),
            args: quoted,
        }
    }

    pub fn unknown_subcommand(container: &str, sub: &[u8]) -> CmdError {
        CmdError::UnknownSubcommand {
            container: container.to_ascii_uppercase(),
            sub: truncated(sub, 128),
        }
    }

    /// The RESP error line: Redis replaces newlines so the reply stays one protocol line.
    pub fn to_resp_text(&self) -> String {
        self.to_string().replace(['\r', '\n'], " ")
    }
}

fn truncated(s: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&s[..s.len().min(max)]).into_owned()
}

pub const NOAUTH_HELLO: &str = "NOAUTH HELLO must be called with the client already \
authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to \
authenticate the client and select the RESP protocol version at the same time";

pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password \
configured for the default user. Are you sure your configuration is correct?";

pub const MAX_CLIENTS_REACHED: &str = "ERR max number of clients reached";

pub const PROTECTED_MODE_DENIED: &str = "DENIED Redis is running in protected mode because \
protected mode is enabled and no password is set for the default user. In this mode \
connections are only accepted from the loopback interface. If you want to connect from \
external computers to Redis you may adopt one of the following solutions: 1) Just disable \
protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface \
by connecting to Redis from the same host the server is running, however MAKE SURE Redis is \
not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change \
permanent. 2) Alternatively you can just disable the protected mode by editing the Redis \
configuration file, and setting the protected mode option to 'no', and then restarting the \
server. 3) If you started the server manually just for testing, restart it with the \
'--protected-mode no' option. 4) Set up an authentication password for the default user. \
NOTE: You only need to do one of the above things in order for the server to start accepting \
connections from the outside.";

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn unknown_command_quotes_like_redis() {
        let e = CmdError::unknown_command(b"foo", &[Bytes::from("a"), Bytes::from("b")]);
        assert_eq!(
            e.to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        let e = CmdError::unknown_command(b"foo", &[]);
        assert_eq!(
            e.to_string(),
            "ERR unknown command 'foo', with args beginning with: "
        );
        let e = CmdError::unknown_subcommand("config", b"nope");
        assert_eq!(
            e.to_string(),
            "ERR unknown subcommand 'nope'. Try CONFIG HELP."
        );
        assert_eq!(CmdError::err("a\r\nb").to_resp_text(), "ERR a  b");
    }
}
