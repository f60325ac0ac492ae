//! The typed clients against hostile endpoints (raw TCP servers that misbehave): an answer
//! declaring a length over the cap, an endless chunked answer, and a redirect to another
//! address. The client refuses each without buffering the body or following the redirect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zkcredit_api::client::{http_client, ClientError, Endpoint, MAX_RESPONSE_BYTES};

/// Serves every connection with `respond` (after reading the request head).
async fn serve<F, Fut>(respond: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let respond = respond.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                respond(s).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A `GET` of `url` fails with "the answer is larger than …".
async fn assert_refused_as_too_large(url: &str) {
    let e = Endpoint::new(http_client(), url)
        .get::<serde_json::Value>("/x")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Http { message, .. } if message.contains("larger than")),
        "{e}"
    );
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let url = serve(|mut s| async move {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            MAX_RESPONSE_BYTES + 1
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(b"[1,").await;
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    })
    .await;
    assert_refused_as_too_large(&url).await;
}

#[tokio::test]
async fn an_endless_chunked_answer_is_cut_off_at_the_cap() {
    let url = serve(|mut s| async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 1 << 20];
        let frame = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
        // Until the client hangs up: at most a little over the cap is ever sent.
        for _ in 0..(MAX_RESPONSE_BYTES >> 20) + 64 {
            if s.write_all(&frame).await.is_err() {
                return;
            }
        }
        panic!("the client read far beyond its cap");
    })
    .await;
    assert_refused_as_too_large(&url).await;
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let hit = Arc::new(AtomicBool::new(false));
    let seen = hit.clone();
    let elsewhere = serve(move |mut s| {
        let seen = seen.clone();
        async move {
            seen.store(true, Ordering::SeqCst);
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await;
        }
    })
    .await;
    let url = serve(move |mut s| {
        let to = elsewhere.clone();
        async move {
            let head = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}/steal\r\ncontent-length: 0\r\n\r\n"
            );
            let _ = s.write_all(head.as_bytes()).await;
        }
    })
    .await;
    let e = Endpoint::new(http_client(), url)
        .with_token("secret")
        .post::<_, serde_json::Value>("/v1/submit", &serde_json::json!({"proof": 1}))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(307), "{e}");
    assert!(
        !hit.load(Ordering::SeqCst),
        "the client followed the redirect"
    );
}
