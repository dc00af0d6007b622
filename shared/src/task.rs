//! Where spawned tasks run: on smol's executor thread, or on the thread that
//! spawned them when that thread runs its own executor ([`Here`]).
//!
//! A tool whose work is one event loop beside its connections (`p2p-gossip`)
//! runs everything on its main thread: quinn's endpoint and connection drivers,
//! the per-connection tasks and the loop itself. Each frame then goes from the
//! socket to the loop and back out without waking another thread; with the
//! tasks on smol's executor thread every frame woke the main thread and every
//! reply woke the executor thread, and among 50 processes on 2 cores each wake-up
//! waited for a core.

use smol::{LocalExecutor, Task};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

thread_local! {
    /// The executor of this thread, while a [`Here`] is entered on it.
    static HERE: RefCell<Option<Rc<LocalExecutor<'static>>>> = const { RefCell::new(None) };
}

/// Spawns `future` on this thread's executor if a [`Here`] is entered on it,
/// else on smol's executor thread.
pub fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Task<T> {
    match HERE.with(|here| here.borrow().clone()) {
        Some(executor) => executor.spawn(future),
        None => smol::spawn(future),
    }
}

/// This thread's own executor: from [`Here::enter`] until it is dropped, tasks
/// spawned on this thread wait for it, and run when [`Here::block_on`] does.
pub struct Here {
    executor: Rc<LocalExecutor<'static>>,
}

impl Here {
    /// Makes this thread's spawns its own.
    #[must_use]
    pub fn enter() -> Self {
        let executor = Rc::new(LocalExecutor::new());
        HERE.with(|here| *here.borrow_mut() = Some(executor.clone()));
        Here { executor }
    }

    /// Runs `future` to its end, and this thread's tasks meanwhile.
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        smol::block_on(self.executor.run(future))
    }
}

impl Drop for Here {
    fn drop(&mut self) {
        HERE.with(|here| *here.borrow_mut() = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::{self, ThreadId};

    fn runs_on() -> Task<ThreadId> {
        spawn(async { thread::current().id() })
    }

    #[test]
    fn tasks_spawned_inside_here_run_on_its_thread() {
        let here = Here::enter();
        let task = runs_on();
        assert_eq!(here.block_on(task), thread::current().id());
    }

    #[test]
    fn tasks_spawned_outside_here_run_on_smols_thread() {
        let on = smol::block_on(runs_on());
        assert_ne!(on, thread::current().id());
        let here = Here::enter();
        drop(here);
        assert_ne!(smol::block_on(runs_on()), thread::current().id());
    }
}
