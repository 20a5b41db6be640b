//! `LumaError`: the umbrella error of start-up and of the engines, turned into RESP at the edge.

use crate::cmd::CmdError;
use crate::config::ConfigError;
use crate::resp::ProtocolError;

#[derive(Debug, thiserror::Error)]
pub enum LumaError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error(transparent)]
    Command(#[from] CmdError),
}

impl LumaError {
    /// The RESP error text a client receives for this error.
    pub fn to_resp(&self) -> String {
        match self {
            LumaError::Command(e) => e.to_resp_text(),
            LumaError::Protocol(e) => format!("ERR {e}"),
            other => format!("ERR {}", other.to_string().replace(['\r', '\n'], " ")),
        }
    }
}
