//! Wire format of tinyraft.
//!
//! `eraftpb.proto` compiled by prost at build time, with no `protoc` needed:
//! the build script parses the file with protox, a pure-Rust protobuf
//! compiler. Every `bytes` field is a [`bytes::Bytes`], so one payload is
//! shared by every follower, `Ready` and snapshot without a copy.
//!
//! ```
//! # mod tinyraft { pub use tinyraft_proto::{eraftpb, prost}; }
//! use tinyraft::prost::Message as _;
//! use tinyraft::eraftpb::{Entry, Message, MessageType};
//!
//! let mut m = Message::default();
//! m.set_msg_type(MessageType::MsgAppend);
//! m.from = 1;
//! m.to = 2;
//! m.entries.push(Entry { term: 1, index: 1, data: "put x".into(), ..Default::default() });
//! let wire = m.encode_to_vec();
//! assert_eq!(Message::decode(&wire[..]).unwrap(), m);
//! ```

#![forbid(unsafe_code)]

/// The generated message types (`Message`, `Entry`, `HardState`, ...), plus
/// the conveniences in this crate that callers expect beside them.
pub mod eraftpb {
    #![allow(missing_docs)]
    #![allow(clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/eraftpb.rs"));

    pub use super::util::{is_local_msg, is_response_msg};
}

mod conf_change;
mod util;

pub use conf_change::ConfChangeI;
pub use prost;
