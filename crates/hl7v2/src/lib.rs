//! HL7 v2 (v2.3 to v2.8) messages: a fast, zero-copy, panic-free parser, escape handling,
//! batch splitting and acknowledgement building.
//!
//! The crate is pure: no I/O, no clock (the caller passes the time to [`ack`]).
//!
//! # Reading
//!
//! [`Message::parse`] takes one message as `&str` and borrows from it. It cuts segments at
//! CR, LF or CRLF (skipping blank lines and a leading byte-order mark), reads the delimiters
//! from MSH-1 and MSH-2 — never assuming `|^~\&` — checks every segment id and the MSH fields
//! needed to route and acknowledge (MSH-9, MSH-10, MSH-12), and records where fields start.
//! Everything below the field is found on demand:
//!
//! ```text
//! Message ─ segments() ─> Segment ─ field(n) ─> Field ─ rep(i) ─> Rep ─ component(n) ─> Comp ─ sub(n)
//!                                               (HL7 numbering)  (0-based)  (1-based)          (1-based)
//! ```
//!
//! `raw()` at every level is the undecoded text; `value()` decodes escape sequences
//! ([`decode`]) and borrows when there are none. Out-of-range positions give empty parts,
//! never a panic. [`Message::get`] reads a path such as `PID-5[2].1`.
//!
//! Input bytes become text with [`decode_text`] (UTF-8, else Latin-1) or [`utf8_text`]
//! (UTF-8 or an error with the offset).
//!
//! # Files and batches
//!
//! [`split_messages`] cuts a file into messages at each MSH, skipping (and checking) the
//! FHS/BHS/BTS/FTS batch envelope; [`split_batch`] yields the envelope segments too;
//! [`parse_messages`] splits and parses.
//!
//! # Writing
//!
//! [`encode`] escapes a value for a given [`Encoding`]; [`ack`] and [`ack_for_unparsable`]
//! build acknowledgements.
//!
//! # MLLP
//!
//! [`mllp::FrameDecoder`] turns the bytes of a connection into frames (`<VT>…<FS><CR>`), with
//! a size limit; [`mllp::frame`] frames an outgoing message.
//!
//! # Errors
//!
//! [`ParseError`] says what went wrong ([`ErrorKind`]) and where ([`Location`]: message,
//! segment, field, byte offset), and maps to an HL7 table 0357 code for the ACK.
//!
//! ```
//! use salus_hl7v2::{ack, AckCode, AckError, ack_for_unparsable, Message};
//!
//! let text = "MSH|^~\\&|ADT|HOSP|EHR|HOSP|20240101||ADT^A01^ADT_A01|MSG1|P|2.5\r\
//!             PID|1||42^^^HOSP^MR||DOE^JOHN\r\
//!             ZPI|custom\\F\\value";
//! let reply = match Message::parse(text) {
//!     Ok(msg) => {
//!         assert_eq!(msg.get("PID-5.1").as_deref(), Some("DOE"));
//!         assert_eq!(msg.get("ZPI-1").as_deref(), Some("custom|value"));
//!         ack(&msg, AckCode::ApplicationAccept, None, "20240101120000", "ACK-1")
//!     }
//!     Err(e) => {
//!         let err = AckError::from_parse_error(&e, text);
//!         ack_for_unparsable(text, AckCode::ApplicationReject, Some(&err), "20240101120000", "ACK-1")
//!     }
//! };
//! assert!(reply.starts_with("MSH|^~\\&|EHR|HOSP|ADT|HOSP|20240101120000||ACK^A01^ACK|ACK-1|"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ack;
mod encoding;
mod error;
mod escape;
mod lines;
mod message;
pub mod mllp;
mod path;
mod split;
mod text;

pub use ack::{ack, ack_for_unparsable, AckCode, AckError, Severity};
pub use encoding::{Encoding, Warning};
pub use error::{ErrorKind, Location, ParseError};
pub use escape::{decode, encode, MAX_SP_NEWLINES};
pub use message::{Comp, Field, Message, MessageType, Rep, Segment};
pub use split::{
    parse_messages, split_batch, split_messages, Envelope, Messages, Piece, SplitBatch, Trailer,
};
pub use text::{decode_text, utf8_text};
