//! DNS messages over TCP (RFC 1035 §4.2.2: each message prefixed with its
//! two-byte length), every step bounded by the configured timeout.
//!
//! TCP only: zone transfers need it, and an UPDATE carrying a whole zone's
//! changes would not fit a UDP datagram.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why an exchange failed. `sent` tells whether the message may have
/// reached the server (then a write's outcome is unknown).
#[derive(Debug)]
pub struct TransportError {
    pub sent: bool,
    pub message: String,
}

/// One TCP connection to the server.
pub struct Connection {
    stream: TcpStream,
    address: String,
    timeout: Duration,
}

async fn bounded<T>(
    timeout: Duration,
    what: &str,
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no progress within {}s", timeout.as_secs())),
    }
}

impl Connection {
    pub async fn open(address: &str, timeout: Duration) -> Result<Connection, TransportError> {
        let stream = bounded(timeout, "connect", TcpStream::connect(address))
            .await
            .map_err(|m| TransportError {
                sent: false,
                message: format!("cannot reach the DNS server at {address} over TCP ({m})"),
            })?;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            address: address.to_string(),
            timeout,
        })
    }

    pub async fn send(&mut self, message: &[u8]) -> Result<(), TransportError> {
        let len = u16::try_from(message.len()).map_err(|_| TransportError {
            sent: false,
            message: format!(
                "a DNS message of {} bytes does not fit TCP framing",
                message.len()
            ),
        })?;
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        bounded(self.timeout, "send", self.stream.write_all(&framed))
            .await
            .map_err(|m| TransportError {
                sent: true,
                message: format!("{}: {m}", self.address),
            })
    }

    pub async fn receive(&mut self) -> Result<Vec<u8>, TransportError> {
        let address = self.address.clone();
        let err = |m: String| TransportError {
            sent: true,
            message: format!("{address}: {m}"),
        };
        let mut len = [0u8; 2];
        bounded(
            self.timeout,
            "read answer",
            self.stream.read_exact(&mut len),
        )
        .await
        .map_err(err)?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        bounded(
            self.timeout,
            "read answer",
            self.stream.read_exact(&mut buf),
        )
        .await
        .map_err(err)?;
        Ok(buf)
    }
}
