//! Upstream bodies read in large pieces. workerd hands a default stream reader (what
//! `worker::Response::stream` and `text` use) at most 4 KB per read, and every read is a
//! promise round trip through JS and wasm: about 40 µs of CPU each, which made reading a
//! 2,000-delta stream cost more than translating it. A BYOB reader with a 64 KB buffer
//! gets whatever has arrived, up to 64 KB, in one read, and still returns as soon as any
//! byte is there, so a slow stream is passed on event by event as before.

use std::cell::RefCell;
use std::pin::Pin;

use futures::stream::{self, Stream, StreamExt};
use worker::js_sys::{Function, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Response, ResponseBody};

const READ_SIZE: u32 = 64 * 1024;

thread_local! {
    /// Read buffers of finished bodies, for the next ones: a fresh 64 KB buffer costs
    /// workerd more CPU than a whole small request's reads.
    static BUFFERS: RefCell<Vec<JsValue>> = const { RefCell::new(Vec::new()) };
}

/// Buffers kept for reuse (enough for the bodies an isolate reads at once).
const POOL: usize = 8;

struct Reader {
    reader: JsValue,
    read: Function,
    /// The buffer of the last read, transferred back to us for the next one.
    buffer: Option<JsValue>,
}

fn get(target: &JsValue, key: &str) -> Result<JsValue, worker::Error> {
    Reflect::get(target, &JsValue::from_str(key)).map_err(worker::Error::from)
}

impl Reader {
    fn new(body: &JsValue) -> Result<Reader, worker::Error> {
        let get_reader: Function = get(body, "getReader")?.dyn_into()?;
        let opts = Object::new();
        Reflect::set(&opts, &"mode".into(), &"byob".into())?;
        let reader = get_reader.call1(body, &opts)?;
        let read: Function = get(&reader, "read")?.dyn_into()?;
        Ok(Reader {
            reader,
            read,
            buffer: None,
        })
    }

    async fn next(&mut self) -> Option<Result<Vec<u8>, worker::Error>> {
        let view = match self
            .buffer
            .take()
            .or_else(|| BUFFERS.with(|b| b.borrow_mut().pop()))
        {
            Some(buffer) => Uint8Array::new(&buffer),
            None => Uint8Array::new_with_length(READ_SIZE),
        };
        let step = async {
            let promise = self.read.call1(&self.reader, &view)?;
            let result = JsFuture::from(worker::js_sys::Promise::from(promise)).await?;
            let value = get(&result, "value")?.dyn_into::<Uint8Array>().ok();
            if get(&result, "done")?.as_bool().unwrap_or(false) {
                // The buffer comes back with the end of the stream: kept for the next body.
                if let Some(buffer) = value.map(|v| v.buffer()) {
                    if buffer.byte_length() == READ_SIZE {
                        BUFFERS.with(|b| {
                            let mut pool = b.borrow_mut();
                            if pool.len() < POOL {
                                pool.push(buffer.into());
                            }
                        });
                    }
                }
                return Ok(None);
            }
            let value = value.ok_or_else(|| worker::Error::from("a read without a value"))?;
            let bytes = value.to_vec();
            self.buffer = Some(value.buffer().into());
            Ok(Some(bytes))
        };
        step.await.transpose()
    }
}

pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, worker::Error>>>>;

/// The body of an upstream response as a stream of byte chunks (None: no body).
pub fn chunks(resp: &Response) -> Option<BodyStream> {
    let ResponseBody::Stream(body) = resp.body() else {
        return None;
    };
    let reader = match Reader::new(body.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            // No BYOB support (never seen in workerd): one error ends the stream.
            return Some(stream::once(async move { Err(e) }).boxed_local());
        }
    };
    Some(
        stream::unfold(reader, |mut r| async move {
            r.next().await.map(|item| (item, r))
        })
        .boxed_local(),
    )
}

/// A whole upstream body as text.
pub async fn text(resp: &Response) -> Result<String, worker::Error> {
    let mut out = Vec::new();
    match resp.body() {
        ResponseBody::Empty => {}
        ResponseBody::Body(b) => out.extend_from_slice(b),
        ResponseBody::Stream(_) => {
            let mut body = chunks(resp).expect("a stream body");
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                if out.is_empty() {
                    out = chunk;
                } else {
                    out.extend_from_slice(&chunk);
                }
            }
        }
    }
    String::from_utf8(out).map_err(|e| worker::Error::RustError(e.to_string()))
}
