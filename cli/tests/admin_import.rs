//! Issue 10, finding 4: the admin import buffered up to 512 MiB before the token was
//! checked. A provider runs as a process; an unauthenticated 200 MB upload is refused with
//! 401 before its body is read, and the server's peak resident memory stays flat.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use zkcredit_api::client::ProviderClient;

const ADMIN: &str = "import-test-admin-token-0123456";
const MIB: usize = 1 << 20;

/// (VmRSS, VmHWM) of `pid` in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |name: &str| -> u64 {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /proc/{pid}/status"))
    };
    (kib("VmRSS:") * 1024, kib("VmHWM:") * 1024)
}

/// Announces `announced` bytes of CSV (with `token` as bearer, if any), streams up to `send`
/// bytes from a writer thread, and returns the HTTP status line's code and the bytes the
/// server took. A raw socket, so an early refusal is read even while the body is being sent.
fn raw_upload(base: &str, token: Option<&str>, announced: usize, send: usize) -> (u16, usize) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "POST /v1/admin/import HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/csv\r\nContent-Length: {announced}\r\n{}\r\n",
        token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = "1000,1,1700000000,0\n".repeat(MIB / 20);
        let mut sent = 0;
        while sent < send {
            if w.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    let status = String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let _ = s.shutdown(std::net::Shutdown::Both);
    (status, writer.join().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_04_unauthenticated_oversized_import_is_refused_before_the_body_is_read() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("admin.token"), ADMIN).unwrap();
    let issuer_key = common::issuer_key_hex(7);
    let (mut child, url, _) = common::serve(
        p,
        &common::strs(&common::provider_args(
            "fraud_list",
            "fraud",
            "1001",
            "8",
            &issuer_key,
            "http://127.0.0.1:9",
            &["--max-import-bytes", &(8 * MIB).to_string()],
        )),
    );
    let pid = child.id();
    let fraud = ProviderClient::new(reqwest::Client::new(), url.clone());
    // Warm up (runtime threads, allocator arenas), then take the baseline.
    fraud.status().await.unwrap();
    let small = "subject_key,v0,v1,v2\n1000,1,1700000000,0\n";
    fraud.import_csv(ADMIN, small, true).await.unwrap();
    let (rss0, hwm0) = memory(pid);

    // The attack: 200 MB (announced 300 MB) without credentials.
    let u = url.clone();
    let (status, sent) =
        tokio::task::spawn_blocking(move || raw_upload(&u, None, 300_000_000, 200_000_000))
            .await
            .unwrap();
    assert_eq!(status, 401, "refused as unauthorized (sent {sent} bytes)");
    let (rss1, hwm1) = memory(pid);
    eprintln!(
        "provider memory: RSS {} → {} MiB, peak {} → {} MiB; the client pushed {} MiB",
        rss0 / MIB as u64,
        rss1 / MIB as u64,
        hwm0 / MIB as u64,
        hwm1 / MIB as u64,
        sent / MIB
    );
    assert!(
        hwm1.saturating_sub(hwm0) < 64 * MIB as u64,
        "peak resident memory grew by {} MiB",
        (hwm1 - hwm0) / MIB as u64
    );

    // With the token, a body above the configured cap is refused (413), announced or not.
    let u = url.clone();
    let (status, _) =
        tokio::task::spawn_blocking(move || raw_upload(&u, Some(ADMIN), 9 * MIB, 9 * MIB))
            .await
            .unwrap();
    assert_eq!(
        status, 413,
        "an authenticated body above the cap is refused"
    );
    let st = fraud.admin_status(ADMIN).await.unwrap();
    assert_eq!(
        st.pending_changes, 0,
        "nothing of the refused body was staged"
    );
    // The service still works, and a body under the cap is imported.
    let rep = fraud.import_csv(ADMIN, small, false).await.unwrap();
    assert_eq!(rep.upserts, 1);
    let (_, hwm2) = memory(pid);
    assert!(hwm2.saturating_sub(hwm0) < 64 * MIB as u64);
    let _ = child.kill();
    let _ = child.wait();
}

/// `zkcredit provider import` of a file larger than one part (spec §4.4): a bad line is
/// named before anything is sent; a good file goes in three parts and is published once;
/// `--from-line` sends only the rest of a file; a hold above the bound is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_csv_is_validated_first_then_sent_in_parts_and_resumable() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("admin.token"), ADMIN).unwrap();
    let issuer_key = common::issuer_key_hex(7);
    let (mut child, url, _) = common::serve(
        p,
        &common::strs(&common::provider_args(
            "fraud_list",
            "fraud",
            "1001",
            "32",
            &issuer_key,
            "http://127.0.0.1:9",
            &["--publish-pending-every", "1"],
        )),
    );
    let fraud = ProviderClient::new(reqwest::Client::new(), url.clone());
    let n = 110_000u64;
    let mut csv = String::from("subject_key,v0,v1,v2\n");
    for i in 0..n {
        csv.push_str(&format!("{},1,{},0\n", 5_000 + i * 3, 1_700_000_000 + i));
    }
    let mut bad = csv.clone();
    bad.push_str("77,1,1700000000\n");
    std::fs::write(p.join("bad.csv"), &bad).unwrap();
    std::fs::write(p.join("rows.csv"), &csv).unwrap();
    let import = |file: &str, extra: &[&str]| {
        let mut a = vec![
            "provider",
            "import",
            "--url",
            &url,
            "--admin-token-file",
            "admin.token",
            file,
        ];
        a.extend_from_slice(extra);
        common::zk(&a, p)
    };

    let o = import("bad.csv", &[]);
    assert!(!o.status.success());
    let line = n + 2;
    assert!(
        common::text(&o).contains(&format!("line {line}")),
        "{}",
        common::text(&o)
    );
    let st = fraud.admin_status(ADMIN).await.unwrap();
    assert_eq!((st.rows, st.pending_changes), (0, 0), "nothing sent");

    // The second half only (data lines start at line 2), then the whole file.
    let o = import("rows.csv", &["--from-line", &(60_002).to_string()]);
    assert!(o.status.success(), "{}", common::text(&o));
    let st = fraud.admin_status(ADMIN).await.unwrap();
    assert_eq!((st.rows, st.pending_changes), (50_000, 0));
    let o = import("rows.csv", &[]);
    assert!(o.status.success(), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("imported 110000 upserts"),
        "{}",
        common::text(&o)
    );
    let st = fraud.admin_status(ADMIN).await.unwrap();
    assert_eq!((st.rows, st.pending_changes), (n as usize, 0));

    let r = fraud
        .import_csv_part(ADMIN, "subject_key,v0,v1,v2\n", 601)
        .await;
    assert_eq!(r.unwrap_err().status(), Some(400));
    let _ = child.kill();
    let _ = child.wait();
}
