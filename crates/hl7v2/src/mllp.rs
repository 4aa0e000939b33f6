//! MLLP framing (`<VT> message <FS><CR>`), sans I/O: bytes in, frames out.
//!
//! The listener reads whatever the socket gives (a frame split across reads, several frames in
//! one read, noise between frames) and pushes it here; complete frames come out in order. A
//! frame larger than the limit is not buffered: its first bytes are kept (enough to read MSH
//! and answer `AR`) and the rest is skipped up to its end byte, so memory stays bounded
//! whatever a peer sends.

/// Start of a frame (vertical tab).
pub const START: u8 = 0x0b;
/// End of a frame (file separator), followed by a carriage return.
pub const END: u8 = 0x1c;

/// Bytes kept of an oversized frame: room for its MSH segment.
const OVERSIZED_HEAD: usize = 4096;

/// A frame read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole message (the bytes between the start and end bytes).
    Message(Vec<u8>),
    /// A frame over the limit.
    Oversized {
        /// Its first bytes (enough for the MSH segment).
        head: Vec<u8>,
        /// Its full length.
        len: usize,
    },
}

#[derive(Debug)]
enum State {
    /// Between frames: bytes other than a start byte are noise.
    Between,
    /// Inside a frame, buffering it.
    Inside,
    /// Inside an oversized frame: counting, not keeping.
    Skipping { len: usize },
}

/// Turns a byte stream into frames. See the module documentation.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
    state: State,
    buffer: Vec<u8>,
    /// The previous push ended right after an end byte: a CR at the start of the next one
    /// belongs to that frame's trailer.
    after_end: bool,
    noise_bytes: u64,
    abandoned_frames: u64,
}

impl FrameDecoder {
    /// A decoder that accepts frames of up to `max_frame_bytes` (the message itself).
    pub fn new(max_frame_bytes: usize) -> Self {
        FrameDecoder {
            max_frame_bytes: max_frame_bytes.max(1),
            state: State::Between,
            buffer: Vec::new(),
            after_end: false,
            noise_bytes: 0,
            abandoned_frames: 0,
        }
    }

    /// Feed bytes; complete frames are appended to `out` in order.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Frame>) {
        if self.after_end {
            self.after_end = false;
            if let Some(rest) = data.strip_prefix(b"\r") {
                data = rest;
            }
        }
        while !data.is_empty() {
            match self.state {
                State::Between => match data.iter().position(|&b| b == START) {
                    Some(at) => {
                        self.noise_bytes += noise(&data[..at]);
                        data = &data[at + 1..];
                        self.state = State::Inside;
                        self.buffer.clear();
                    }
                    None => {
                        self.noise_bytes += noise(data);
                        data = &[];
                    }
                },
                State::Inside => {
                    let stop = data.iter().position(|&b| b == END || b == START);
                    let take = stop.unwrap_or(data.len());
                    if self.buffer.len() + take > self.max_frame_bytes {
                        let keep = OVERSIZED_HEAD.saturating_sub(self.buffer.len()).min(take);
                        self.buffer.extend_from_slice(&data[..keep]);
                        self.buffer.truncate(OVERSIZED_HEAD);
                        self.state = State::Skipping {
                            len: self.buffer.len() + (take - keep),
                        };
                        data = &data[take..];
                        continue;
                    }
                    self.buffer.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    match data.first() {
                        Some(&END) => {
                            out.push(Frame::Message(std::mem::take(&mut self.buffer)));
                            data = self.finish_frame(&data[1..]);
                        }
                        Some(&START) => {
                            // A new frame before this one ended: the sender gave up on it
                            // (reconnected, restarted). It is dropped; the sender re-sends it.
                            self.abandoned_frames += 1;
                            self.buffer.clear();
                            data = &data[1..];
                        }
                        _ => {}
                    }
                }
                State::Skipping { len } => match data.iter().position(|&b| b == END) {
                    Some(at) => {
                        let head = std::mem::take(&mut self.buffer);
                        out.push(Frame::Oversized {
                            head,
                            len: len + at,
                        });
                        data = self.finish_frame(&data[at + 1..]);
                    }
                    None => {
                        self.state = State::Skipping {
                            len: len + data.len(),
                        };
                        data = &[];
                    }
                },
            }
        }
    }

    /// After an end byte: skip the CR that should follow (it may come in the next push).
    fn finish_frame<'d>(&mut self, rest: &'d [u8]) -> &'d [u8] {
        self.state = State::Between;
        match rest.first() {
            Some(b'\r') => &rest[1..],
            Some(_) => rest,
            None => {
                self.after_end = true;
                rest
            }
        }
    }

    /// Whether a frame has begun and not ended (a connection closed now drops it).
    pub fn mid_frame(&self) -> bool {
        !matches!(self.state, State::Between)
    }

    /// Bytes seen outside any frame, white space excepted.
    pub fn noise_bytes(&self) -> u64 {
        self.noise_bytes
    }

    /// Frames dropped because a new one began before they ended.
    pub fn abandoned_frames(&self) -> u64 {
        self.abandoned_frames
    }
}

/// Noise outside frames, not counting the white space some senders put between them.
fn noise(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| !b.is_ascii_whitespace()).count() as u64
}

/// Frame a message for sending.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message);
    out.extend_from_slice(&[END, b'\r']);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(max: usize, chunks: &[&[u8]]) -> (Vec<Frame>, FrameDecoder) {
        let mut d = FrameDecoder::new(max);
        let mut out = Vec::new();
        for c in chunks {
            d.push(c, &mut out);
        }
        (out, d)
    }

    #[test]
    fn frames_split_across_reads_and_several_per_read() {
        let (frames, d) = decode_all(
            1000,
            &[b"\x0bMSH|a", b"bc\x1c", b"\r\x0bMSH|2\x1c\r\x0bMSH|3\x1c\r"],
        );
        assert_eq!(
            frames,
            vec![
                Frame::Message(b"MSH|abc".to_vec()),
                Frame::Message(b"MSH|2".to_vec()),
                Frame::Message(b"MSH|3".to_vec())
            ]
        );
        assert!(!d.mid_frame());
        assert_eq!(d.noise_bytes(), 0);
    }

    #[test]
    fn noise_between_frames_is_counted_and_skipped() {
        let (frames, d) = decode_all(1000, &[b"garbage\r\n\x0bMSH|1\x1c\rxx \x0bMSH|2\x1c"]);
        assert_eq!(frames.len(), 2);
        assert_eq!(d.noise_bytes(), 9);
    }

    #[test]
    fn oversized_frames_keep_a_head_and_are_skipped() {
        let big = vec![b'x'; 10_000];
        let mut input = vec![START];
        input.extend_from_slice(b"MSH|^~\\&|");
        input.extend_from_slice(&big);
        input.extend_from_slice(&[END, b'\r']);
        input.extend_from_slice(&frame(b"MSH|next"));
        let (frames, _) = decode_all(100, &[&input[..5000], &input[5000..]]);
        match &frames[0] {
            Frame::Oversized { head, len } => {
                assert!(head.starts_with(b"MSH|^~\\&|"));
                assert!(head.len() <= OVERSIZED_HEAD);
                assert_eq!(*len, 10_009);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(frames[1], Frame::Message(b"MSH|next".to_vec()));
    }

    #[test]
    fn a_frame_restarted_before_its_end_is_dropped() {
        let (frames, d) = decode_all(1000, &[b"\x0bMSH|par", b"tial\x0bMSH|whole\x1c\r"]);
        assert_eq!(frames, vec![Frame::Message(b"MSH|whole".to_vec())]);
        assert_eq!(d.abandoned_frames(), 1);
    }

    #[test]
    fn a_dropped_connection_mid_frame_is_seen() {
        let (frames, d) = decode_all(1000, &[b"\x0bMSH|never ends"]);
        assert!(frames.is_empty());
        assert!(d.mid_frame());
    }

    #[test]
    fn the_trailing_cr_may_arrive_alone() {
        let (frames, d) = decode_all(1000, &[b"\x0bA\x1c", b"\r", b"\x0bB\x1c\r"]);
        assert_eq!(frames.len(), 2);
        assert_eq!(d.noise_bytes(), 0);
    }
}
