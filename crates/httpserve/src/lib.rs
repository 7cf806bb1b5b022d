//! The one serve function of every HTTP server of ours (bbs, rep,
//! auctioneer, file server, router; locket's gRPC through tonic's axum
//! router): [`serve`] a [`Router`](axum::Router) on a listener, over TLS
//! or plain HTTP, with the limits of one [`ServerSettings`].
//!
//! What a hostile or careless client meets:
//! - a TLS handshake (or, in plain HTTP, a first byte) that does not come
//!   within `tls_handshake_timeout` closes the connection;
//! - an HTTP/1.1 request head not read within `header_read_timeout`
//!   (hyper's timer, which also runs while a keep-alive connection waits
//!   for its next request) closes it;
//! - a connection with no request in flight for `idle_timeout` (HTTP/2,
//!   or a stalled HTTP/2 preface) is shut down gracefully;
//! - a request body with no data for `body_read_timeout` fails to read;
//! - beyond `max_connections`, new connections wait in the listen
//!   backlog; beyond `max_requests_in_flight`, requests answer 503 at once
//!   (tower's global concurrency limit and load shedding);
//! - a body declared larger than `max_request_body_bytes` is refused before
//!   it is read, in the server's own error form ([`Rejection`]); a body
//!   without a length is cut at that limit (see [`is_body_too_large`]);
//! - every body is admitted only once its size (declared, or the limit)
//!   fits in `max_buffered_request_bytes` together with the bodies being
//!   read: the others wait unread (nothing of them is buffered) and answer
//!   503 after `body_read_timeout`.
//!
//! A connection closes lingering (FIN, then what the client still sends is
//! read and dropped for 500 ms), so an answer given before the body was
//! read reaches the client instead of a reset.
//!
//! A connection whose first request a [`Hijack`] wants is handed to it
//! raw (Go's `http.Hijacker`; Garden's run and attach); it holds a
//! connection slot until it closes. [`Server::serve_unix`] serves a unix
//! socket with the same limits.
//!
//! A request is in flight until its response body ends, so event streams
//! (SSE) never idle out, and no timeout bounds a response.

mod activity;
mod hijack;
mod limits;
mod linger;
mod serve;
mod settings;

pub use hijack::{Hijack, Prefixed, RawConn, RawIo};
pub use limits::{is_body_too_large, Rejection, Rejector};
pub use serve::{serve, Server};
pub use settings::ServerSettings;
