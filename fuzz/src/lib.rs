//! Shared setup for the fuzz targets in `fuzz_targets/`: the repository's
//! paths, the demo policy (loaded once), a token verifier for a policy, a
//! worker thread with the stack the server runs SQL on, and stack
//! overflows reported as crashes.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, OnceLock};

use steward_identity::Verifier;
use steward_policy::Policy;

/// The repository root (the fuzz crate is `fuzz/` in it).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("fuzz/ is inside the repository")
}

/// `policies/*.toml` as (path, text), sorted by name like `Policy::load_dir`.
pub fn demo_policy_files() -> &'static [(PathBuf, String)] {
    static FILES: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = repo().join("policies");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        paths.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))).collect()
    })
}

/// The demo policy, loaded with the same loader the server uses.
pub fn demo_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::load_dir(&repo().join("policies")).unwrap_or_else(|e| panic!("the demo policy does not load: {e}")))
}

/// A verifier for `policy`'s identity section and keys, built the way the
/// server builds one per policy generation. Fails when a key is not a
/// usable Ed25519 public key.
pub fn verifier(policy: &Policy) -> Result<Verifier, String> {
    steward_pipeline::identity::verifier(policy, Default::default())
}

/// Make a stack overflow a crash libFuzzer reports (and saves the input
/// of), on this thread and on every [`Worker`]. Call it from the target's
/// `init`, before libFuzzer installs its signal handlers.
///
/// Without a sanitizer (`cargo fuzz run -s none`) nothing gives a thread
/// an alternate signal stack, so libFuzzer's SIGSEGV handler would have to
/// run on the stack that just overflowed: the kernel kills the process
/// and the input is lost. libFuzzer keeps `SA_ONSTACK` when the handler it
/// replaces had it, so this sets the default action with that flag, and
/// gives the thread an alternate stack.
pub fn report_stack_overflows() {
    // SAFETY: a zeroed sigaction is a valid "default action" request; the
    // flags only say how libFuzzer's later handler is called.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()), 0, "sigaction(SIGSEGV)");
    }
    alternate_signal_stack();
}

/// Give the calling thread a signal stack of its own (leaked: threads
/// here live as long as the process).
fn alternate_signal_stack() {
    const SIZE: usize = 256 * 1024;
    let memory: &'static mut [u8] = Vec::leak(vec![0u8; SIZE]);
    let stack = libc::stack_t { ss_sp: memory.as_mut_ptr().cast(), ss_flags: 0, ss_size: SIZE };
    // SAFETY: the memory is valid for the life of the process.
    let rc = unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "sigaltstack");
}

/// One long-lived thread with [`steward_sql::bounds::STACK_BYTES`] of
/// stack (what the server's workers have), running `f` on each input it is
/// handed. A thread per input would cost more than most inputs take.
///
/// A panic on it aborts the process through libFuzzer's panic hook, so it
/// is reported as a crash like one on the fuzzer's own thread.
pub struct Worker {
    inputs: SyncSender<Vec<u8>>,
    done: Receiver<()>,
}

impl Worker {
    pub fn spawn(name: &str, f: fn(&[u8])) -> Worker {
        let (inputs, jobs) = sync_channel::<Vec<u8>>(0);
        let (finished, done) = sync_channel(0);
        std::thread::Builder::new()
            .name(name.to_string())
            .stack_size(steward_sql::bounds::STACK_BYTES)
            .spawn(move || {
                alternate_signal_stack();
                for input in jobs {
                    f(&input);
                    if finished.send(()).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the fuzz worker");
        Worker { inputs, done }
    }

    /// Run the worker's function on `data` and wait for it.
    pub fn run(&self, data: &[u8]) {
        self.inputs.send(data.to_vec()).expect("the fuzz worker is alive");
        self.done.recv().expect("the fuzz worker finished the input");
    }
}

/// Run `f(data)` on the worker in `slot`, spawning it on first use.
pub fn on_sql_stack(slot: &'static OnceLock<Mutex<Worker>>, name: &str, f: fn(&[u8]), data: &[u8]) {
    let worker = slot.get_or_init(|| Mutex::new(Worker::spawn(name, f)));
    worker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).run(data);
}
