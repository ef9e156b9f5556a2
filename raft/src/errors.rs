//! The error type of the consensus core.

use thiserror::Error as ThisError;
use tinyraft_log::StorageError;

/// Everything `Raft`, `RawNode` and `Config` can refuse.
///
/// ```
/// use tinyraft::{Error, StorageError};
/// let e: Error = StorageError::Compacted.into();
/// assert_eq!(e, Error::Store(StorageError::Compacted));
/// assert!(e.to_string().contains("storage"));
/// ```
#[derive(Debug, ThisError, PartialEq)]
pub enum Error {
    /// The storage engine failed; nothing was changed that depends on it.
    #[error("storage error: {0}")]
    Store(#[from] StorageError),
    /// A proposal could not be accepted here (no leader, a candidate, or a
    /// leader transfer in progress). The caller may retry later.
    #[error("proposal dropped")]
    ProposalDropped,
    /// `RawNode::step` was given a message type that only the node itself
    /// may generate (use the `RawNode` method for it instead).
    #[error("raft: cannot step raft local message")]
    StepLocalMsg,
    /// A response came from a node that is not a member.
    #[error("raft: cannot step as peer not found")]
    StepPeerNotFound,
    /// The configuration is invalid; the text names the field.
    #[error("invalid config: {0}")]
    ConfigInvalid(String),
    /// A membership change was refused at proposal time; nothing was appended.
    #[error("conf change refused: {0}")]
    ConfChangeRefused(String),
    /// A message malformed in itself; no state was changed.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
}

/// `Result` with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
