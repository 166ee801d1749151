//! Bridges between the async side (Docker's streams) and the blocking side (the zip and
//! tar crates, which read and write `std::io`): bounded channels of chunks, so a dump or
//! a filestore flows through in pieces and never sits whole in memory.

use std::io::{Read, Write};

use bytes::Bytes;
use tokio::sync::mpsc;

/// How many chunks may wait between the two sides.
pub const DEPTH: usize = 16;

/// The blocking end of a channel of chunks, as a reader.
pub struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The blocking end of a channel of chunks, as a writer (what it is given is sent in
/// chunks of at least 64 KiB, fewer messages for the same bytes).
pub struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    pending: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Bytes>) -> Self {
        Self {
            tx,
            pending: Vec::with_capacity(CHUNK),
        }
    }

    fn send_pending(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.pending,
            Vec::with_capacity(CHUNK),
        ));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK {
            self.send_pending()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_pending()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.send_pending();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_through_a_channel_arrive_whole_and_in_order() {
        let (tx, rx) = mpsc::channel(DEPTH);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let writer = std::thread::spawn(move || {
            let mut w = ChannelWriter::new(tx);
            for piece in data.chunks(7_000) {
                w.write_all(piece).unwrap();
            }
        });
        let mut got = Vec::new();
        ChannelReader::new(rx).read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        assert_eq!(got, expected);
    }
}
