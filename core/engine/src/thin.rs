//! `Shared`: an immutable byte string with a 64-bit header, behind one thin, atomically counted
//! pointer, in one allocation of 16 bytes plus the bytes.
//!
//! A group key is one of these, held by every map of the group: a million groups hold a
//! million of them. A general-purpose thin `Arc` of a header and a slice keeps a word-wide
//! count and a word-wide length; here both are 32 bits, which puts a key of one short id (15
//! bytes of parts) in a 32-byte block instead of a 40-byte one.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, Ordering};

#[repr(C)]
struct Header {
    count: AtomicU32,
    len: u32,
    header: u64,
}

/// Holders past this are a leak, not a use: stop before the count could wrap.
const MAX_HOLDERS: u32 = i32::MAX as u32;

pub struct Shared {
    ptr: NonNull<Header>,
}

// SAFETY: the bytes and the header never change after `new`, and the count is atomic (the last
// holder frees the block after an acquire fence, as `std::sync::Arc` does): holders on any
// threads only ever read shared, immutable data.
unsafe impl Send for Shared {}
// SAFETY: as above; `&Shared` gives only reads of immutable data and atomic count updates.
unsafe impl Sync for Shared {}

impl Shared {
    fn layout(len: usize) -> Layout {
        let size = std::mem::size_of::<Header>() + len;
        Layout::from_size_align(size, std::mem::align_of::<Header>()).expect("a key's size")
    }

    pub fn new(header: u64, bytes: &[u8]) -> Shared {
        let len = u32::try_from(bytes.len()).expect("a key under 4 GiB");
        let layout = Shared::layout(bytes.len());
        // SAFETY: the layout has a non-zero size (the header alone is 16 bytes). The block is
        // written before anything reads it: the header with `write` (no drop of the
        // uninitialised memory), then the bytes, into the `len` bytes right after the header,
        // which the layout includes; the source is a distinct, live slice of that length.
        unsafe {
            let raw = alloc(layout).cast::<Header>();
            let Some(ptr) = NonNull::new(raw) else {
                handle_alloc_error(layout)
            };
            raw.write(Header {
                count: AtomicU32::new(1),
                len,
                header,
            });
            let data = raw.add(1).cast::<u8>();
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
            Shared { ptr }
        }
    }

    fn head(&self) -> &Header {
        // SAFETY: `ptr` points to a header written by `new`, alive while any holder (self is
        // one) holds it.
        unsafe { self.ptr.as_ref() }
    }

    pub fn header(&self) -> u64 {
        self.head().header
    }

    pub fn bytes(&self) -> &[u8] {
        let len = self.head().len as usize;
        // SAFETY: `new` wrote `len` initialised bytes right after the header, in the same live
        // block; they are never written again, so a shared slice of them is valid for as long
        // as `self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(1).cast::<u8>(), len) }
    }

    pub fn ptr_eq(&self, other: &Shared) -> bool {
        self.ptr == other.ptr
    }

    /// How many hold it.
    pub fn holders(&self) -> usize {
        self.head().count.load(Ordering::Acquire) as usize
    }
}

impl Clone for Shared {
    fn clone(&self) -> Shared {
        // A new holder comes from an existing one, which keeps the block alive: no ordering
        // with other memory is needed (as in `std::sync::Arc::clone`).
        let before = self.head().count.fetch_add(1, Ordering::Relaxed);
        if before > MAX_HOLDERS {
            std::process::abort();
        }
        Shared { ptr: self.ptr }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if self.head().count.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other holder's use happens before the block is freed.
        fence(Ordering::Acquire);
        let layout = Shared::layout(self.head().len as usize);
        // SAFETY: this was the last holder, so nothing else can reach the block; it was
        // allocated by `new` with this very layout (same length).
        unsafe { dealloc(self.ptr.as_ptr().cast::<u8>(), layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_its_header_and_bytes_until_the_last_holder_goes() {
        for text in ["", "a", "acct_0123abcd", &"x".repeat(1000)] {
            let first = Shared::new(0xfeed, text.as_bytes());
            let second = first.clone();
            assert!(first.ptr_eq(&second));
            assert_eq!((first.holders(), second.header()), (2, 0xfeed));
            drop(first);
            assert_eq!(second.bytes(), text.as_bytes());
            assert_eq!(second.holders(), 1);
            assert!(!second.ptr_eq(&Shared::new(0xfeed, text.as_bytes())));
        }
    }

    #[test]
    fn threads_share_and_drop_it() {
        let key = Shared::new(7, b"shared");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let mine = key.clone();
                std::thread::spawn(move || {
                    let copies: Vec<Shared> = (0..1000).map(|_| mine.clone()).collect();
                    assert!(copies.iter().all(|c| c.bytes() == b"shared"));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(key.holders(), 1);
    }

    #[test]
    fn a_short_key_takes_a_32_byte_block() {
        assert_eq!(std::mem::size_of::<Header>(), 16);
        assert_eq!(Shared::layout(15).size(), 31);
        assert_eq!(std::mem::size_of::<Shared>(), 8);
        assert_eq!(std::mem::size_of::<Option<Shared>>(), 8);
    }
}
