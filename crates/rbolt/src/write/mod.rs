//! The write layer: changing trees in memory, the writer's state between transactions, and
//! the data half of a commit (spill, freelist, meta). It never sees the database handle:
//! publishing a commit to readers is the transaction's job.

use crate::counters::TxCounters;
use crate::read::View;
mod commit;
mod page_writer;
mod tree;
mod writer;

pub(crate) use commit::write_all;
pub(crate) use writer::{ShrinkMode, WriterData, grow_target};

/// A write transaction's view of its snapshot plus what it stages; tree changes and spills
/// are its methods. Reads go through the [`View`] it derefs to.
#[derive(Clone, Copy)]
pub(crate) struct WriteCtx<'a> {
    pub(crate) view: View<'a>,
    pub(crate) stats: &'a TxCounters,
}

impl<'a> std::ops::Deref for WriteCtx<'a> {
    type Target = View<'a>;
    fn deref(&self) -> &View<'a> {
        &self.view
    }
}
