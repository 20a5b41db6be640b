//! Reads against concurrent writes: the row cache never serves a value older than one a client
//! has already seen or been acknowledged.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use crate::common::TestServer;

#[test]
fn reads_are_monotonic_and_see_acknowledged_writes() {
    let server = TestServer::start();
    let acked = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (mut con, acked, done) = (server.conn(), acked.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = 0i64;
                let mut reads = 0;
                while !done.load(Ordering::SeqCst) {
                    // Anything acknowledged before this read starts must be visible to it.
                    let floor = acked.load(Ordering::SeqCst);
                    let value: Option<i64> =
                        redis::cmd("GET").arg("counter").query(&mut con).unwrap();
                    let value = value.unwrap_or(0);
                    assert!(
                        value >= last,
                        "a read went back in time: {value} after {last}"
                    );
                    assert!(value >= floor, "acknowledged {floor} but read {value}");
                    last = value;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut writer = server.conn();
    let mut other_db = server.conn();
    let _: () = redis::cmd("SELECT").arg(1).query(&mut other_db).unwrap();
    for i in 1..=3000i64 {
        let n: i64 = redis::cmd("INCR")
            .arg("counter")
            .query(&mut writer)
            .unwrap();
        assert_eq!(n, i);
        acked.store(n, Ordering::SeqCst);
        if i % 500 == 0 {
            // A whole-database change elsewhere clears the whole cache.
            let _: () = redis::cmd("FLUSHDB").query(&mut other_db).unwrap();
        }
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    let value: i64 = redis::cmd("GET").arg("counter").query(&mut writer).unwrap();
    assert_eq!(value, 3000);
}
