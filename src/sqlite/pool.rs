//! The readers: read-only connections, each on its own thread, sharing one queue of queries.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::conn::Conn;
use super::{Host, SqlError};

type Job = Box<dyn FnOnce(&Conn) + Send>;

pub struct Readers {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub size: usize,
}

impl Readers {
    /// Opens `size` read-only connections on `path` and their threads.
    pub fn start(path: &Path, host: Arc<dyn Host>, size: usize) -> Result<Readers, SqlError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(size);
        for i in 0..size.max(1) {
            let conn = Conn::open_reader(path, host.clone())?;
            let rx = rx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("luma-sql-read-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&conn),
                        Err(_) => return,
                    }
                })
                .map_err(|e| SqlError::Internal(e.to_string()))?;
            threads.push(thread);
        }
        Ok(Readers {
            queue: Mutex::new(Some(tx)),
            threads: Mutex::new(threads),
            size: size.max(1),
        })
    }

    /// Runs `f` on the next free reader; the receiver yields its result.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, SqlError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let sender = queue
            .as_ref()
            .ok_or_else(|| SqlError::Internal("the SQL engine is shut down".into()))?;
        sender
            .send(job)
            .map_err(|_| SqlError::Internal("the SQL readers stopped".into()))?;
        Ok(rx)
    }

    /// Stops the threads once the queued queries are done.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}
