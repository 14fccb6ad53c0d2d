//! Hot rotation: the rotation driver, and identity + CA rotation under continuous load.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use meshtls_core::{
    Authority, ErrorCode, Issued, Policy, RootParams, Serial, TrustBundle, Usage, Verifier,
};
use meshtls_net::enroll::EnrollError;
use meshtls_net::{
    Identity, IdentityHandle, MtlsClient, MtlsListener, MtlsServer, RenewError, RotationDriver,
    RotationEvent, TrustHandle,
};
use tokio::sync::mpsc;

fn trust(cas: &[&Authority], allow: &str) -> Verifier {
    let mut bundle = TrustBundle::new();
    for ca in cas {
        bundle.add_ca_der(ca.certificate_der()).unwrap();
    }
    Verifier::new(
        bundle,
        Policy::builder().allow_id(id(allow)).build().unwrap(),
    )
}

fn fresh(ca: &Authority, who: &str, usage: Usage) -> Issued {
    issue(
        ca,
        who,
        usage,
        wall_now().sub(Duration::from_secs(60)),
        Duration::from_secs(86_400),
    )
}

#[tokio::test]
async fn driver_renews_a_due_certificate_and_new_handshakes_present_it() {
    let pki = Pki::new();
    // Issued 50 minutes ago for an hour: past 2/3 of its life, so renewal is due now.
    let due = issue(
        &pki.ca,
        SERVER_ID,
        Usage::Server,
        wall_now().sub(Duration::from_secs(50 * 60)),
        Duration::from_secs(3600),
    );
    let identity = Pki::identity(&due);
    let (server, _f) = server_with(identity.clone(), pki.server_trust());
    let listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();
    let (ptx, _peers) = mpsc::unbounded_channel();
    let _srv = spawn_echo(listener, ptx);

    let client = pki.client_with(&pki.client);
    let before = within("connect", client.connect(addr, "localhost"))
        .await
        .unwrap();
    assert_eq!(before.peer_identity().unwrap().serial, due.serial);

    // What the enrollment service will hand out.
    let next = Arc::new(fresh(&pki.ca, SERVER_ID, Usage::Server));
    let renewed_serial = Arc::new(Mutex::new(None::<Serial>));
    let (etx, mut events) = mpsc::unbounded_channel();
    let slot = renewed_serial.clone();
    let task = RotationDriver::new(identity.clone(), pki.client_trust(), move || {
        let next = next.clone();
        let slot = slot.clone();
        async move {
            *slot.lock().unwrap() = Some(next.serial.clone());
            Ok(Identity::from_issued(&next)?)
        }
    })
    .backoff(Duration::from_millis(10), Duration::from_millis(100))
    .on_event(move |e| {
        let _ = etx.send(e);
    })
    .spawn();

    match within("expiring", events.recv()).await.unwrap() {
        RotationEvent::Expiring {
            serial, expired, ..
        } => {
            assert_eq!(serial, due.serial);
            assert!(!expired);
        }
        other => panic!("expected Expiring, got {other:?}"),
    }
    let new_serial = match within("renewed", events.recv()).await.unwrap() {
        RotationEvent::Renewed { serial, .. } => serial,
        other => panic!("expected Renewed, got {other:?}"),
    };
    assert_eq!(Some(&new_serial), renewed_serial.lock().unwrap().as_ref());
    task.stop();

    // A fresh client (no resumption) sees the new certificate; the old connection is intact.
    let other_client = pki.client_with(&pki.client);
    let after = within("connect", other_client.connect(addr, "localhost"))
        .await
        .unwrap();
    assert_eq!(after.peer_identity().unwrap().serial, new_serial);
    let mut before = before;
    assert_eq!(
        within("echo", roundtrip(&mut before, "old")).await.unwrap(),
        "echo:old"
    );
}

#[tokio::test]
async fn driver_retries_with_backoff_and_never_swaps_in_a_rejected_certificate() {
    let pki = Pki::new();
    let due = issue(
        &pki.ca,
        SERVER_ID,
        Usage::Server,
        wall_now().sub(Duration::from_secs(50 * 60)),
        Duration::from_secs(3600),
    );
    let identity = Pki::identity(&due);
    let calls = Arc::new(AtomicU64::new(0));
    let answers = Arc::new([
        // Another CA: the core verifier refuses it.
        fresh(&pki.rogue_ca, SERVER_ID, Usage::Server),
        // Our CA but a different identity: the policy refuses it.
        fresh(&pki.ca, INTRUDER_SERVER_ID, Usage::Server),
        // A client-only certificate for a server identity: wrong usage.
        fresh(&pki.ca, SERVER_ID, Usage::Client),
        fresh(&pki.ca, SERVER_ID, Usage::Server),
    ]);
    let (etx, mut events) = mpsc::unbounded_channel();
    let counter = calls.clone();
    let watched = identity.clone();
    let due_serial = due.serial.clone();
    let task = RotationDriver::new(identity.clone(), pki.client_trust(), move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let answers = answers.clone();
        async move {
            match n {
                0 => Err("enrollment service unavailable".into()),
                // The CA service's refusal carries a core code: the event says which.
                1 => Err(Box::new(EnrollError::Service {
                    status: 403,
                    code: "revoked".into(),
                    message: "the certificate is revoked".into(),
                }) as RenewError),
                n => Ok(Identity::from_issued(&answers[(n as usize - 2).min(3)])?),
            }
        }
    })
    .backoff(Duration::from_millis(5), Duration::from_millis(40))
    .on_event(move |e| {
        // Until Renewed, the identity in use is still the original one.
        if !matches!(e, RotationEvent::Renewed { .. }) {
            assert_eq!(watched.current().leaf().unwrap().serial, due_serial);
        }
        let _ = etx.send(e);
    })
    .spawn();

    assert!(matches!(
        within("expiring", events.recv()).await.unwrap(),
        RotationEvent::Expiring { .. }
    ));
    let expected = [
        (1, None),
        (2, Some(ErrorCode::Revoked)),
        (3, Some(ErrorCode::UnknownIssuer)),
        (4, Some(ErrorCode::IdentityNotAllowed)),
        (5, Some(ErrorCode::WrongUsage)),
    ];
    let mut last_delay = Duration::ZERO;
    for (attempt, code) in expected {
        match within("failed", events.recv()).await.unwrap() {
            RotationEvent::Failed {
                attempt: a,
                code: c,
                retry_in,
                ..
            } => {
                assert_eq!((a, c), (attempt, code));
                assert!(retry_in >= last_delay, "backoff grows");
                assert!(retry_in <= Duration::from_millis(40), "backoff is capped");
                last_delay = retry_in;
            }
            other => panic!("expected Failed #{attempt}, got {other:?}"),
        }
    }
    assert!(matches!(
        within("renewed", events.recv()).await.unwrap(),
        RotationEvent::Renewed { .. }
    ));
    assert_ne!(identity.current().leaf().unwrap().serial, due.serial);
    task.stop();
}

/// What the load clients report: which task, the phase when its handshake started, the
/// server's serial it saw.
struct Seen {
    task: usize,
    phase: u64,
    server_serial: Serial,
}

/// Advance to a new phase and wait until every load task has finished a handshake that started
/// in it (so nothing from before is still in flight); with `want` set, until every task has also
/// seen that server serial.
async fn barrier(
    phase: &AtomicU64,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    want: Option<Serial>,
) {
    let target = phase.fetch_add(1, Ordering::SeqCst) + 1;
    let mut done: HashMap<usize, bool> = HashMap::new();
    within("every load task to see the new phase", async {
        while done.len() < TASKS {
            let s = seen.recv().await.expect("load tasks alive");
            if s.phase >= target && want.as_ref().is_none_or(|w| *w == s.server_serial) {
                done.insert(s.task, true);
            }
        }
    })
    .await;
}

const TASKS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_rotation_under_load_drops_nothing() {
    const LONG_LIVED: usize = 16;
    let ca1 = Authority::create_root(
        &RootParams::new(td()),
        wall_now().sub(Duration::from_secs(86_400)),
    )
    .unwrap();
    let ca2 = Authority::create_root(
        &RootParams::new(td()),
        wall_now().sub(Duration::from_secs(86_400)),
    )
    .unwrap();

    let server_identity =
        IdentityHandle::new(Identity::from_issued(&fresh(&ca1, SERVER_ID, Usage::Server)).unwrap());
    let server_trust = TrustHandle::new(trust(&[&ca1], CLIENT_ID));
    let client_identity =
        IdentityHandle::new(Identity::from_issued(&fresh(&ca1, CLIENT_ID, Usage::Client)).unwrap());
    let client_trust = TrustHandle::new(trust(&[&ca1], SERVER_ID));
    let first_server_serial = server_identity.current().leaf().unwrap().serial;

    let server_failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let sf = server_failures.clone();
    let server = MtlsServer::builder(server_identity.clone(), server_trust.clone())
        .on_handshake_error(move |f| sf.lock().unwrap().push(f.to_string()))
        .build()
        .unwrap();
    let listener = MtlsListener::bind("127.0.0.1:0", server).await.unwrap();
    let addr = listener.local_addr();
    let (ptx, mut client_serials) = mpsc::unbounded_channel();
    let _srv = spawn_echo(listener, ptx);

    let client = MtlsClient::builder(client_identity.clone(), client_trust.clone())
        .handshake_timeout(WAIT)
        .build()
        .unwrap();

    // Long-lived connections, opened before any rotation.
    let mut long_lived = Vec::new();
    for _ in 0..LONG_LIVED {
        long_lived.push(
            within("connect", client.connect(addr, "localhost"))
                .await
                .unwrap(),
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicU64::new(0));
    let client_failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let handshakes = Arc::new(AtomicU64::new(0));
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<Seen>();
    let mut workers = Vec::new();
    for task in 0..TASKS {
        let (client, stop, phase, failures, handshakes, seen_tx) = (
            client.clone(),
            stop.clone(),
            phase.clone(),
            client_failures.clone(),
            handshakes.clone(),
            seen_tx.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let started = phase.load(Ordering::SeqCst);
                let result = async {
                    let mut s = client.connect(addr, "localhost").await?;
                    let serial = s.peer_identity().map(|p| p.serial.clone());
                    roundtrip(&mut s, "load").await?;
                    Ok::<_, std::io::Error>(serial)
                }
                .await;
                match result {
                    Ok(Some(server_serial)) => {
                        handshakes.fetch_add(1, Ordering::SeqCst);
                        let _ = seen_tx.send(Seen {
                            task,
                            phase: started,
                            server_serial,
                        });
                    }
                    Ok(None) => failures.lock().unwrap().push("no peer identity".into()),
                    Err(e) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{e} ({:?})", code_of(&e))),
                }
            }
        }));
    }
    drop(seen_tx);

    barrier(&phase, &mut seen, None).await;
    // Three leaf rotations under CA1.
    for _ in 0..3 {
        let issued = fresh(&ca1, SERVER_ID, Usage::Server);
        server_identity.replace(Identity::from_issued(&issued).unwrap());
        barrier(&phase, &mut seen, Some(issued.serial.clone())).await;
    }
    // CA rotation: trust old + new, reissue both sides under the new CA, drop the old.
    server_trust.replace(trust(&[&ca1, &ca2], CLIENT_ID));
    client_trust.replace(trust(&[&ca1, &ca2], SERVER_ID));
    barrier(&phase, &mut seen, None).await;
    let s_new = fresh(&ca2, SERVER_ID, Usage::Server);
    server_identity.replace(Identity::from_issued(&s_new).unwrap());
    barrier(&phase, &mut seen, Some(s_new.serial.clone())).await;
    let c_new = fresh(&ca2, CLIENT_ID, Usage::Client);
    client_identity.replace(Identity::from_issued(&c_new).unwrap());
    barrier(&phase, &mut seen, None).await;
    server_trust.replace(trust(&[&ca2], CLIENT_ID));
    client_trust.replace(trust(&[&ca2], SERVER_ID));
    barrier(&phase, &mut seen, Some(s_new.serial.clone())).await;
    barrier(&phase, &mut seen, Some(s_new.serial.clone())).await;

    stop.store(true, Ordering::SeqCst);
    for w in workers {
        within("load task", w).await.unwrap();
    }
    let total = handshakes.load(Ordering::SeqCst);
    let client_failures = client_failures.lock().unwrap().clone();
    let server_failures = server_failures.lock().unwrap().clone();
    assert!(
        client_failures.is_empty(),
        "client-side failures: {client_failures:?}"
    );
    assert!(
        server_failures.is_empty(),
        "server-side failures: {server_failures:?}"
    );
    assert!(total >= 8 * TASKS as u64, "only {total} handshakes");

    // The server saw the new client certificate.
    let mut saw_new_client = false;
    while let Ok(p) = client_serials.try_recv() {
        saw_new_client |= p.serial == c_new.serial;
    }
    assert!(saw_new_client);

    // Every connection opened before the rotations still works, with its original peer.
    for (i, s) in long_lived.iter_mut().enumerate() {
        assert_eq!(s.peer_identity().unwrap().serial, first_server_serial);
        let reply = within("long-lived echo", roundtrip(s, &format!("still-{i}")))
            .await
            .unwrap();
        assert_eq!(reply, format!("echo:still-{i}"));
    }
    println!("hot rotation: {total} handshakes across 5 leaf swaps and a CA rotation, 0 failures");
}
