//! Shared by the interop tests that drive an outside client process.

#![allow(dead_code, unreachable_pub)]

use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio::time::timeout;

/// What a client process left: its exit status (`None` if it ran past the
/// limit and was killed), stdout and stderr. Both pipes are read while it
/// runs, so neither can fill up and stall it.
pub async fn run_client(
    mut child: Child,
    limit: Duration,
    what: &str,
) -> (Option<ExitStatus>, String, String) {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf).into_owned()
    });
    let err = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf).into_owned()
    });
    let status = match timeout(limit, child.wait()).await {
        Ok(status) => Some(status.unwrap_or_else(|e| panic!("wait for the {what}: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    let out = out.await.expect("read the client's stdout");
    let err = err.await.expect("read the client's stderr");
    (status, out, err)
}
