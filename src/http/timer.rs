//! A `setTimeout` future that wakes whichever task polled it last. `worker::Delay` keeps
//! the waker of its first poll, which is right for a future awaited once; a keep-alive
//! timer that lives across a response stream's pulls is polled by a new task on every
//! pull, so it must wake the current one or the tick is seen only when the next upstream
//! chunk happens to arrive.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::JsValue;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Closure<dyn FnMut()>, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

#[derive(Default)]
struct Shared {
    fired: bool,
    waker: Option<Waker>,
}

pub struct Timer {
    after: Duration,
    shared: Rc<RefCell<Shared>>,
    /// The scheduled timeout and its callback, kept alive until it fires or is dropped.
    scheduled: Option<(JsValue, Closure<dyn FnMut()>)>,
}

impl Timer {
    pub fn new(after: Duration) -> Timer {
        Timer {
            after,
            shared: Rc::default(),
            scheduled: None,
        }
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut shared = self.shared.borrow_mut();
            if shared.fired {
                return Poll::Ready(());
            }
            match &shared.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => shared.waker = Some(cx.waker().clone()),
            }
        }
        if self.scheduled.is_none() {
            let shared = Rc::clone(&self.shared);
            let callback = Closure::<dyn FnMut()>::new(move || {
                let waker = {
                    let mut shared = shared.borrow_mut();
                    shared.fired = true;
                    shared.waker.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            });
            let id = set_timeout(&callback, self.after.as_millis() as f64);
            self.scheduled = Some((id, callback));
        }
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some((id, _)) = &self.scheduled {
            if !self.shared.borrow().fired {
                clear_timeout(id);
            }
        }
    }
}
