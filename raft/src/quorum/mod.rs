//! Quorum arithmetic, pure and tested alone.
//!
//! - [`majority`](self::majority()), [`committed_index`], [`vote_result`],
//!   [`has_quorum`]: one voter set (Raft §5.2, §5.3).
//! - [`JointConfig`]: two voter sets during joint consensus (thesis §4.3),
//!   where every decision needs a majority of each.

mod joint;
mod majority;

pub use joint::JointConfig;
pub use majority::{VoteResult, committed_index, has_quorum, majority, vote_result};
