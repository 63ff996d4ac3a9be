//! Fault injection for tests (the `testing` feature; release builds carry none of it).
//!
//! A test arms a fault for one child kind; the next handler call (or the next `pre_start`) of
//! that child consumes it.

#[cfg(feature = "testing")]
use std::collections::{HashMap, VecDeque};
#[cfg(feature = "testing")]
use std::sync::{Arc, Mutex};
#[cfg(feature = "testing")]
use std::time::Duration;

use ractor::ActorProcessingErr;

use crate::children::ChildKind;

/// The fault hooks every child calls. Without the `testing` feature this is an empty struct
/// whose hooks compile to nothing.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    #[cfg(feature = "testing")]
    inner: Arc<FaultInjector>,
}

impl Faults {
    /// Hook at the start of each handler call.
    #[inline]
    pub(crate) async fn before_handle(&self, _kind: ChildKind) {
        #[cfg(feature = "testing")]
        self.inner.before_handle(_kind).await;
    }

    /// Hook at the start of each `pre_start`.
    #[inline]
    pub(crate) fn before_start(&self, _kind: ChildKind) -> Result<(), ActorProcessingErr> {
        #[cfg(feature = "testing")]
        self.inner.before_start(_kind)?;
        Ok(())
    }

    /// Hook inside long operations (between sweep batches).
    #[inline]
    pub(crate) fn midway(&self, _kind: ChildKind) {
        #[cfg(feature = "testing")]
        self.inner.midway(_kind);
    }

    /// Arms `fault` for the next call (or start) of `kind`.
    #[cfg(feature = "testing")]
    pub fn arm(&self, kind: ChildKind, fault: Fault) {
        self.inner.arm(kind, fault);
    }
}

/// A fault a test can inject into a child.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Panic at the start of the next handler call (before the message is acted on).
    Panic,
    /// Sleep this long at the start of the next handler call (an actor that does not answer).
    Stall(Duration),
    /// Fail the next `pre_start`.
    FailStart,
    /// Panic in the middle of the next long operation (after the first sweep batch).
    PanicMidway,
}

/// Faults armed per child kind, consumed in order.
#[cfg(feature = "testing")]
#[derive(Debug, Default)]
pub struct FaultInjector {
    armed: Mutex<HashMap<ChildKind, VecDeque<Fault>>>,
}

#[cfg(feature = "testing")]
impl FaultInjector {
    /// Arms `fault` for the next call of `kind`.
    pub fn arm(&self, kind: ChildKind, fault: Fault) {
        if let Ok(mut m) = self.armed.lock() {
            m.entry(kind).or_default().push_back(fault);
        }
    }

    /// Takes the next fault of `kind` if it is one `accept` says this hook fires.
    fn take(&self, kind: ChildKind, accept: impl Fn(Fault) -> bool) -> Option<Fault> {
        let mut m = self.armed.lock().ok()?;
        let q = m.get_mut(&kind)?;
        match q.front() {
            Some(f) if accept(*f) => q.pop_front(),
            _ => None,
        }
    }

    fn midway(&self, kind: ChildKind) {
        if self.take(kind, |f| f == Fault::PanicMidway).is_some() {
            panic!("injected panic midway through {}", kind.as_str());
        }
    }

    /// Called at the start of each handler call.
    pub(crate) async fn before_handle(&self, kind: ChildKind) {
        match self.take(kind, |f| matches!(f, Fault::Panic | Fault::Stall(_))) {
            Some(Fault::Panic) => panic!("injected panic in {}", kind.as_str()),
            Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
            _ => {}
        }
    }

    /// Called at the start of each `pre_start`.
    pub(crate) fn before_start(&self, kind: ChildKind) -> Result<(), String> {
        match self.take(kind, |f| f == Fault::FailStart) {
            Some(_) => Err(format!("injected start failure in {}", kind.as_str())),
            None => Ok(()),
        }
    }
}
