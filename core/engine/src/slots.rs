//! An event's decoded fields, one per schema slot, freed without a call per field.
//!
//! Most slots of a decoded event own nothing: null, a number, or a string borrowed from its
//! record. Dropping a boxed slice of values called the values' drop glue once per slot
//! (recursive, so never inlined): thousands of calls per batch for nothing to free. Here the
//! values are kept in `ManuallyDrop`, and dropping the slots tests each one in a loop and drops
//! only those that own memory.

use std::borrow::Cow;
use std::mem::ManuallyDrop;
use std::ops::{Index, IndexMut};

use crate::value::Value;

pub struct Slots<'a>(Box<[ManuallyDrop<Value<'a>>]>);

impl<'a> Slots<'a> {
    /// `n` slots, each null.
    pub fn nulls(n: usize) -> Slots<'a> {
        let mut slots = Vec::with_capacity(n);
        slots.resize_with(n, || ManuallyDrop::new(Value::Null));
        Slots(slots.into_boxed_slice())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Value<'a>> {
        self.0.iter().map(|v| &**v)
    }
}

/// Whether dropping `v` frees memory (an empty list or object has none to free).
fn owns(v: &Value<'_>) -> bool {
    match v {
        Value::Str(Cow::Owned(_)) => true,
        Value::List(items) => items.capacity() > 0,
        Value::Object(items) => items.capacity() > 0,
        _ => false,
    }
}

impl Drop for Slots<'_> {
    fn drop(&mut self) {
        for v in self.0.iter_mut() {
            if owns(v) {
                // Put a null in its place and drop the value taken out: the slot is never
                // dropped itself, so the value is dropped exactly once, here.
                drop(ManuallyDrop::into_inner(std::mem::replace(
                    v,
                    ManuallyDrop::new(Value::Null),
                )));
            }
        }
    }
}

impl<'a> Index<usize> for Slots<'a> {
    type Output = Value<'a>;

    fn index(&self, n: usize) -> &Value<'a> {
        &self.0[n]
    }
}

impl IndexMut<usize> for Slots<'_> {
    fn index_mut(&mut self, n: usize) -> &mut Self::Output {
        &mut self.0[n]
    }
}

impl Clone for Slots<'_> {
    fn clone(&self) -> Self {
        Slots(self.0.clone())
    }
}

impl PartialEq for Slots<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Slots<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use super::*;

    /// The system allocator, keeping this thread's bytes allocated less bytes freed.
    struct Counting;

    thread_local! {
        static NET: Cell<isize> = const { Cell::new(0) };
    }

    fn count(bytes: isize) {
        // A thread being torn down has no counter any more: its frees are not counted.
        let _ = NET.try_with(|n| n.set(n.get() + bytes));
    }

    // SAFETY: every call is passed on unchanged to the system allocator, which keeps the
    // contract; counting touches only a thread-local integer and never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(layout.size() as isize);
            // SAFETY: the caller's layout, as it was given.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            count(-(layout.size() as isize));
            // SAFETY: a block this allocator (the system's) handed out, with its layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    fn net() -> isize {
        NET.with(Cell::get)
    }

    fn filled(text: &str) -> Slots<'_> {
        let mut slots = Slots::nulls(6);
        slots[0] = Value::Str(Cow::Borrowed(text));
        slots[1] = Value::Str(Cow::Owned("owned".into()));
        slots[2] = Value::List(vec![Value::Str(Cow::Owned("inner".into()))]);
        slots[3] = Value::Object(vec![(Cow::Owned("k".into()), Value::Int(1))]);
        slots[4] = Value::List(Vec::new());
        slots
    }

    #[test]
    fn dropped_slots_free_every_value_they_own_once() {
        let text = String::from("borrowed");
        let before = net();
        let slots = filled(&text);
        assert!(net() > before);
        assert_eq!(slots.iter().filter(|v| owns(v)).count(), 3, "{slots:?}");
        let copy = slots.clone();
        drop(slots);
        assert_eq!(copy, filled(&text));
        assert_eq!(copy[0].as_str(), Some("borrowed"));
        assert_eq!(copy[1].as_str(), Some("owned"));
        assert_eq!(copy[5], Value::Null);
        drop(copy);
        assert_eq!(net(), before, "bytes still held after the slots went");
    }
}
