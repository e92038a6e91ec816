//! Guest stdout/stderr: bounded in-memory buffers whose contents go to the user's log.
//!
//! wasmtime-wasi's `MemoryOutputPipe` traps the guest once it is full, which would turn a
//! chatty but correct policy into a failed event. This one keeps the first bytes and
//! silently drops the rest, remembering that it did.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Clone)]
pub(crate) struct BoundedPipe {
    buffer: Arc<Mutex<Vec<u8>>>,
    truncated: Arc<AtomicBool>,
    capacity: usize,
}

impl BoundedPipe {
    pub(crate) fn new(capacity: usize) -> BoundedPipe {
        BoundedPipe {
            buffer: Arc::default(),
            truncated: Arc::default(),
            capacity,
        }
    }

    /// The text written so far (lossy UTF-8), with a note when some was dropped.
    pub(crate) fn contents(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&buffer).into_owned();
        if self.truncated.load(Ordering::Relaxed) {
            text.push_str(&format!(
                "\n… (output beyond {} bytes dropped)",
                self.capacity
            ));
        }
        text
    }
}

impl OutputStream for BoundedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(buffer.len());
        if bytes.len() > room {
            self.truncated.store(true, Ordering::Relaxed);
        }
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: dropping beats blocking or closing, which std turns into a panic.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedPipe {
    async fn ready(&mut self) {}
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    // Only WASI p3 asks for an async stream, and p3 is not linked: policies are p2.
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(MemoryOutputPipe::new(0))
    }
}
