//! Files looked at through a read-only mapping of the page cache instead of being copied
//! into the heap: a policy and its compiled artefact are read on every run, and in a
//! short-lived process a heap copy costs more than the look (fresh pages to fault in
//! and zero, then to give back).
//!
//! A mapping shows the file as it is, not as it was: whoever may write the file can
//! change what the mapping shows. So a mapping is only ever used where that cannot
//! matter: a policy's bytes are mapped to be hashed, and anything run from them is
//! authenticated by that hash; a cache entry is mapped only after checking that nobody
//! but this user (who holds the key anyway) may write it.

use std::fs::File;
use std::ops::Deref;
use std::ptr::NonNull;

/// A whole file, mapped read-only; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapped {
    at: NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// `None` where the file cannot be mapped (empty, not a regular file, refused): the
    /// caller reads it instead.
    #[allow(unsafe_code)]
    pub(crate) fn new(file: &File) -> Option<Mapped> {
        let meta = file.metadata().ok()?;
        let len = usize::try_from(meta.len()).ok()?;
        if !meta.is_file() || len == 0 {
            return None;
        }
        // SAFETY: a new shared read-only mapping at an address the kernel picks, so it
        // aliases nothing of this process; it lives until `drop` unmaps it, and it is
        // only ever read, as bytes (see the module's comment on what they may be).
        let at = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::SHARED,
                file,
                0,
            )
        }
        .ok()?;
        Some(Mapped {
            at: NonNull::new(at.cast())?,
            len,
        })
    }
}

impl Deref for Mapped {
    type Target = [u8];

    #[allow(unsafe_code)]
    fn deref(&self) -> &[u8] {
        // SAFETY: `at` is a live readable mapping of `len` bytes (see `new`).
        unsafe { std::slice::from_raw_parts(self.at.as_ptr(), self.len) }
    }
}

impl Drop for Mapped {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no borrow of it outlives
        // `self`.
        let _ = unsafe { rustix::mm::munmap(self.at.as_ptr().cast(), self.len) };
    }
}
