//! A small HTTP/1.1 listener for the apps the tests stand up beside the server: a relying
//! party's callback, a consent or sign-in app. Each connection is served in its own task,
//! so that a connection a browser opens ahead of time and never uses cannot hold up the
//! request that follows it.

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What an app answers.
pub enum Reply {
    /// 200 with an HTML body.
    Page(String),
    /// 302 to this address.
    Redirect(String),
}

/// Listens on a free loopback port and answers every request with `handle(target)`, the
/// request target (path and query) of its request line. Returns the port.
pub async fn serve<F, Fut>(handle: F) -> u16
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let Some(target) = request_target(&mut socket).await else {
                    return;
                };
                let response = match handle(target).await {
                    Reply::Page(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Reply::Redirect(to) => format!(
                        "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    ),
                };
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

/// Reads up to the end of the request head; the target of its request line.
async fn request_target(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 65_536 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    head.split(' ').nth(1).map(str::to_owned)
}
