//! A local Lambda Runtime API (2018-06-01) on 127.0.0.1: hands queued events to the bootstrap's
//! `/next` polls and reports every call, with its arrival time, on a channel.

use std::collections::VecDeque;
use std::io::{self, BufReader, BufWriter};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http::{read_request, write_response, Request};

const API_PREFIX: &str = "/2018-06-01/runtime";
/// Deadline handed to the function with each event.
const INVOCATION_DEADLINE: Duration = Duration::from_secs(900);
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:trailguard-bench";

/// One call the bootstrap made, stamped when the server had read it.
#[derive(Debug, Clone)]
pub enum ApiEvent {
    NextPoll {
        at: Instant,
    },
    /// An event was written to a `/next` poll.
    Delivered {
        request_id: String,
        at: Instant,
    },
    Response {
        request_id: String,
        body: Vec<u8>,
        at: Instant,
    },
    InvocationError {
        request_id: String,
        error_type: Option<String>,
        body: Vec<u8>,
        at: Instant,
    },
    InitError {
        error_type: Option<String>,
        body: Vec<u8>,
        at: Instant,
    },
}

#[derive(Default)]
struct Pending {
    events: VecDeque<(String, Vec<u8>)>,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    ready: Condvar,
    shutdown: AtomicBool,
}

pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    calls: Receiver<ApiEvent>,
    accept_thread: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    /// Binds an ephemeral port on 127.0.0.1 and starts serving.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let (sender, calls) = mpsc::channel();
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("runtime-api-accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared, &sender))?;
        Ok(Self {
            address,
            shared,
            calls,
            accept_thread: Some(accept_thread),
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Queues an event for the next `/next` poll.
    pub fn enqueue(&self, request_id: &str, payload: Vec<u8>) {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.events.push_back((request_id.to_owned(), payload));
        self.shared.ready.notify_all();
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<ApiEvent, RecvTimeoutError> {
        self.calls.recv_timeout(timeout)
    }

    /// Stops accepting, and ends the `/next` polls still waiting.
    pub fn shutdown(&mut self) {
        if self.shared.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            pending.closed = true;
            self.shared.ready.notify_all();
        }
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, sender: &Sender<ApiEvent>) {
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(shared);
        let sender = sender.clone();
        // Connection threads end when the bootstrap closes its sockets (it is killed after a run).
        let _ = thread::Builder::new()
            .name("runtime-api-conn".into())
            .spawn(move || {
                let _ = serve_connection(stream, &shared, &sender);
            });
    }
}

fn serve_connection(
    stream: TcpStream,
    shared: &Shared,
    sender: &Sender<ApiEvent>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(error) => {
                let body = format!("{{\"errorMessage\":\"{error}\"}}");
                write_response(&mut writer, 400, "Bad Request", &[], body.as_bytes())?;
                return Ok(());
            }
        };
        let at = Instant::now();
        if !route(&request, at, shared, sender, &mut writer)? || request.wants_close() {
            return Ok(());
        }
    }
}

/// Answers one request; `false` when the connection should close.
fn route(
    request: &Request,
    at: Instant,
    shared: &Shared,
    sender: &Sender<ApiEvent>,
    writer: &mut BufWriter<TcpStream>,
) -> io::Result<bool> {
    let Some(path) = request.path.strip_prefix(API_PREFIX) else {
        write_response(writer, 404, "Not Found", &[], b"")?;
        return Ok(true);
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let error_type = request
        .header("lambda-runtime-function-error-type")
        .map(str::to_owned);
    let accepted = |writer: &mut BufWriter<TcpStream>| {
        write_response(
            writer,
            202,
            "Accepted",
            &[("Content-Type", "application/json".into())],
            br#"{"status":"OK"}"#,
        )
    };
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["invocation", "next"]) => {
            let _ = sender.send(ApiEvent::NextPoll { at });
            let Some((request_id, payload)) = wait_for_event(shared) else {
                return Ok(false);
            };
            let _ = sender.send(ApiEvent::Delivered {
                request_id: request_id.clone(),
                at: Instant::now(),
            });
            write_response(
                writer,
                200,
                "OK",
                &[
                    ("Content-Type", "application/json".into()),
                    ("Lambda-Runtime-Aws-Request-Id", request_id.clone()),
                    ("Lambda-Runtime-Deadline-Ms", deadline_ms().to_string()),
                    ("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN.into()),
                    (
                        "Lambda-Runtime-Trace-Id",
                        format!("Root=1-00000000-{request_id};Sampled=0"),
                    ),
                ],
                &payload,
            )?;
        }
        ("POST", ["invocation", request_id, "response"]) => {
            let _ = sender.send(ApiEvent::Response {
                request_id: (*request_id).to_owned(),
                body: request.body.clone(),
                at,
            });
            accepted(writer)?;
        }
        ("POST", ["invocation", request_id, "error"]) => {
            let _ = sender.send(ApiEvent::InvocationError {
                request_id: (*request_id).to_owned(),
                error_type,
                body: request.body.clone(),
                at,
            });
            accepted(writer)?;
        }
        ("POST", ["init", "error"]) => {
            let _ = sender.send(ApiEvent::InitError {
                error_type,
                body: request.body.clone(),
                at,
            });
            accepted(writer)?;
        }
        _ => write_response(writer, 404, "Not Found", &[], b"")?,
    }
    Ok(true)
}

fn wait_for_event(shared: &Shared) -> Option<(String, Vec<u8>)> {
    let mut pending = shared
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    loop {
        if pending.closed {
            return None;
        }
        if let Some(event) = pending.events.pop_front() {
            return Some(event);
        }
        pending = shared
            .ready
            .wait(pending)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

fn deadline_ms() -> u128 {
    (SystemTime::now() + INVOCATION_DEADLINE)
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn exchange(stream: &mut TcpStream, raw: &str) -> String {
        stream.write_all(raw.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn next_call(api: &RuntimeApi) -> ApiEvent {
        api.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn delivers_an_event_and_records_the_response_on_one_connection() {
        let api = RuntimeApi::start().unwrap();
        api.enqueue("id-1", br#"{"a":1}"#.to_vec());
        let mut stream = TcpStream::connect(api.address()).unwrap();

        let next = exchange(
            &mut stream,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(next.starts_with("HTTP/1.1 200 OK"), "{next}");
        assert!(
            next.contains("Lambda-Runtime-Aws-Request-Id: id-1"),
            "{next}"
        );
        assert!(next.contains("Lambda-Runtime-Deadline-Ms: "), "{next}");
        assert!(next.ends_with(r#"{"a":1}"#), "{next}");
        assert!(matches!(next_call(&api), ApiEvent::NextPoll { .. }));
        assert!(
            matches!(next_call(&api), ApiEvent::Delivered { request_id, .. } if request_id == "id-1")
        );

        let answer = exchange(
            &mut stream,
            "POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1\r\nContent-Length: 4\r\n\r\n\"ok\"",
        );
        assert!(answer.starts_with("HTTP/1.1 202 Accepted"), "{answer}");
        match next_call(&api) {
            ApiEvent::Response {
                request_id, body, ..
            } => {
                assert_eq!(request_id, "id-1");
                assert_eq!(body, b"\"ok\"");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn records_invocation_and_init_errors_with_their_type() {
        let api = RuntimeApi::start().unwrap();
        let mut stream = TcpStream::connect(api.address()).unwrap();
        exchange(
            &mut stream,
            "POST /2018-06-01/runtime/invocation/x/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Boom\r\nContent-Length: 2\r\n\r\n{}",
        );
        assert!(matches!(
            next_call(&api),
            ApiEvent::InvocationError { request_id, error_type: Some(t), .. } if request_id == "x" && t == "Boom"
        ));
        exchange(
            &mut stream,
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        );
        assert!(matches!(next_call(&api), ApiEvent::InitError { .. }));
        let missing = exchange(&mut stream, "GET /nope HTTP/1.1\r\n\r\n");
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    }

    #[test]
    fn shutdown_releases_a_waiting_poll() {
        let mut api = RuntimeApi::start().unwrap();
        let mut stream = TcpStream::connect(api.address()).unwrap();
        stream
            .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
            .unwrap();
        assert!(matches!(next_call(&api), ApiEvent::NextPoll { .. }));
        api.shutdown();
        let mut rest = Vec::new();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // The poll is closed without an event.
        assert_eq!(stream.read_to_end(&mut rest).unwrap(), 0);
    }
}
